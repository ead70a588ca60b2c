"""Ready-made workloads (model + data + metric) for the passes; ``minilm`` is the default."""
