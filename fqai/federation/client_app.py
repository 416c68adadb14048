"""The node's Flower ClientApp: train, sign, pin and commit; evaluate the global model."""

from __future__ import annotations

import logging

import torch
from flwr.app import ConfigRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp

from fqai.federation.node import NodeSettings, TrainInstruction, evaluate_local, train_and_commit
from fqai.federation.records import record_to_weights
from fqai.federation.strategy import REPLY_KEY

log = logging.getLogger(__name__)
torch.set_num_threads(1)

app = ClientApp()


@app.train()
def train(msg: Message, context: Context) -> Message:
    """Train on the local partition; reply with the committed manifest CID (no weights)."""
    settings = NodeSettings.from_node_config(context.node_config)
    instruction = TrainInstruction.from_config(msg.content["config"])
    weights = record_to_weights(msg.content["arrays"])
    update = train_and_commit(settings, instruction, weights)
    reply = RecordDict(
        {
            "metrics": MetricRecord(
                {"num-examples": update.samples, "train-loss": update.train_loss}
            ),
            REPLY_KEY: ConfigRecord(
                {
                    "manifest-cid": update.manifest_cid,
                    "manifest-digest": update.manifest_digest,
                    "node": update.node,
                    "commit-tx": update.commit_tx,
                }
            ),
        }
    )
    return Message(content=reply, reply_to=msg)


@app.evaluate()
def evaluate(msg: Message, context: Context) -> Message:
    """Evaluate the global model on this node's share of the test split."""
    settings = NodeSettings.from_node_config(context.node_config)
    config = msg.content["config"]
    result = evaluate_local(
        settings,
        str(config["fqai-dataset"]),
        int(config.get("fqai-data-seed", 0)),
        record_to_weights(msg.content["arrays"]),
        str(config.get("fqai-model", "")),
    )
    metrics = MetricRecord(
        {"num-examples": result.samples, "eval-loss": result.loss, "eval-acc": result.accuracy}
    )
    return Message(content=RecordDict({"metrics": metrics}), reply_to=msg)
