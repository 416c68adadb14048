// A quantum model's page section: its circuit as the signed manifest declares it (the OpenQASM
// text re-hashed here against the declared sha256), and the measured comparison with its
// classical twins at the same qubit count, from the project's benchmark (bench/qml_bench.py).
import { h } from '../dom.js';
import { sha256Hex } from '../lib/provenance.js';
import bench from '../../../docs/benchmarks/qml.json';

const SETTINGS = [['central', 'centralised'], ['iid', 'federated, IID'], ['noniid', 'federated, non-IID']];
const MODELS = [['quantum', 'quantum (this family)'], ['mlp', 'MLP, same parameter count'], ['logistic', 'logistic regression']];

/** The manifest's quantum section, or null for a classical model. */
export function quantumOf(manifest) {
  const params = manifest?.model?.params;
  return params?.family === 'quantum' && params.quantum ? params.quantum : null;
}

/** "quantum model: 4 qubits, depth 9" for cards and headings. */
export function quantumSummary(q) {
  return `quantum model: ${q.circuit.qubits} qubits, depth ${q.circuit.depth}`;
}

function stats(values) {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const sd = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(values.length - 1, 1));
  return `${(100 * mean).toFixed(1)} ± ${(100 * sd).toFixed(1)}`;
}

function twinTable(qubits) {
  const row = bench.results.find((r) => r.qubits === qubits);
  if (!row) return h('p', { 'data-testid': 'twin-none' }, `The benchmark has no figures at ${qubits} qubits (it measured ${bench.results.map((r) => r.qubits).join(', ')}).`);
  return [
    h('table', { 'data-testid': 'twin-table' },
      h('caption', {}, `Test accuracy (%), mean ± sd over ${bench.args.seeds} seeds, breast cancer at ${qubits} qubits`),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Model'), h('th', { scope: 'col' }, 'Parameters'), SETTINGS.map(([, label]) => h('th', { scope: 'col' }, label)))),
      h('tbody', {}, MODELS.map(([key, label]) => h('tr', { 'data-model': key },
        h('th', { scope: 'row' }, label), h('td', {}, String(row.parameters[key])),
        SETTINGS.map(([setting]) => h('td', { 'data-setting': setting }, stats(row.accuracy[key][setting]))))))),
    h('p', { class: 'muted' }, `Measured by ${bench.command.join(' ')} on ${bench.date} (${bench.machine}); these are the benchmark's models, not this token's. See docs/benchmarks/qml.md: the quantum model shows no accuracy advantage over its classical twins.`),
  ];
}

/** The section's content for a verified manifest with a quantum section. */
export function quantumSection(manifest) {
  const q = quantumOf(manifest);
  const c = q.circuit;
  const actual = sha256Hex(new TextEncoder().encode(c.qasm));
  const circuitOk = actual === c.sha256.toLowerCase();
  const shots = q.training.shots ? `${q.training.shots} shots` : 'exact expectations';
  const rows = [
    ['Circuit', `${c.qubits} qubits, depth ${c.depth}, ${c.two_qubit_gates} two-qubit gates, ${c.weights} trainable angles`],
    ['Encoding and ansatz', `${q.spec.encoding} encoding of ${q.features.components} PCA features, ${q.spec.ansatz} (${q.spec.reps} reps, ${q.spec.entanglement} entanglement)`],
    ['Read-out', `${q.observables.length} observables (${q.observables.join(', ')}), linear head to ${q.head.classes} classes`],
    ['Trained on', `${q.training.backend}, ${shots}, ${q.training.gradient} gradients`],
  ];
  return [
    h('p', { 'data-testid': 'quantum-summary' }, h('strong', {}, quantumSummary(q))),
    h('dl', { class: 'details' }, rows.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])),
    h('p', { class: circuitOk ? '' : 'error', role: circuitOk ? null : 'alert', 'data-testid': 'qasm-check', 'data-status': circuitOk ? 'pass' : 'fail' },
      circuitOk
        ? `The OpenQASM 3 circuit in the signed manifest hashes to its declared sha256 (${c.sha256.slice(0, 18)}…); any Qiskit backend can re-run it.`
        : `The OpenQASM 3 text does not hash to its declared sha256 (${c.sha256}); do not trust this circuit.`),
    h('details', {}, h('summary', {}, 'OpenQASM 3 circuit'), h('pre', { class: 'qasm' }, c.qasm)),
    h('h3', {}, 'Against its classical twins'),
    twinTable(c.qubits),
  ];
}
