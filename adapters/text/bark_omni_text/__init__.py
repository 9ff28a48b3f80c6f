"""bark-omni's style-text adapter: ``style_text="whispering, sad"`` steers the frozen Bark.

The words go through Bark's own frozen input embeddings (its text stage already knows them), then a small
trainable projection turns them into context tokens for the fusion block. Importing this package is cheap;
torch loads when an adapter is built.
"""

ADAPTER_KIND = "text"
ADAPTER_VERSION = "1"
