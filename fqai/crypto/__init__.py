"""Post-quantum primitives used by fqai: ML-DSA-65 signatures and ML-KEM-768 key encapsulation."""
