"""The hf_sts models: `sts/` holds the configuration and model classes (a cross-encoder with a regression head, a
Sentence-BERT bi-encoder) and the text cleaning they apply, self-contained so that `save_pretrained` can copy them
beside the weights; `lora.py` wraps them with peft's LoRA adapters."""
