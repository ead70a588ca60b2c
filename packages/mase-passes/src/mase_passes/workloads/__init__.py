"""Ready-made workloads (model + data + metric) for the passes; ``minilm`` is the default,
``llama_debtext`` the builtin causal LM."""
