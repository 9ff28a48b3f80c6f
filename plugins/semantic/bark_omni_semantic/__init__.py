"""bark-omni-semantic: Bark semantic tokens from a recording, so voice prompts made from audio are complete.

Suno never published Bark's semantic tokenizer. This plugin follows the community's working recipe: HuBERT
hidden states (transformers' ``HubertModel``) and a small LSTM quantizer head predicting Bark's 10,000 semantic
ids. It reads the community's published quantizer checkpoints (safely, both versions) and our own format, and
trains its own head by self-distillation from frozen Bark (``bark-omni semantic train``). Importing is cheap.
"""
