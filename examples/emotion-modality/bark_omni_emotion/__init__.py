"""An example third-party modality for bark-omni: ``emotion``.

The modality exists because this plugin registers an adapter for it (``AdapterSpec(modality="emotion")``); the
core names no modality. Use it like a built-in one::

    bark_omni.run(bark_omni.build_request("Hello.", modalities=ModalityBundle(emotion="happy")), adapters=DIR)
    bark-omni adapters init --modalities emotion -o DIR --model tiny
    bark-omni generate -t "Hello." --input emotion=happy --adapters DIR      # or --input mood=happy
"""

ADAPTER_KIND = "emotion-labels"
ADAPTER_VERSION = "1"
EMOTIONS = ("neutral", "happy", "sad", "angry", "calm", "fearful", "surprised")
