"""finetune/: regenerate MedAssist's model from data (format -> LoRA SFT -> merge -> ONNX -> evaluate)."""
