"""bark-omni's image adapter: ``image="scene.png"`` (a path, a PIL image or an array) steers the frozen Bark.

A frozen open_clip vision encoder embeds the image (real CLIP weights by name when they are in the local cache;
a tiny deterministic CLIP for the tiny Bark and the tests), and a trainable projection turns the pooled
embedding or the patch embeddings into context tokens. Importing is cheap; torch loads when an adapter is built.
"""

ADAPTER_KIND = "image"
ADAPTER_VERSION = "2"  # 2: running per-dimension standardisation of the encoder features
