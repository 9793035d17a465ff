"""Fine-tuning: data, LoRA training, the whole pipeline. Imports medassist.model and medassist.evals."""
