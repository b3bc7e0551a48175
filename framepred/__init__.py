"""framepred: ConvLSTM video frame prediction on MovingMNIST.

Modules (import what you need; nothing heavy is imported here):
``data`` (digits, generator, test and validation sets, loaders), ``datasets`` (torch datasets),
``config`` (ConvLSTMConfig, its presets and config.json reader), ``model`` (the cells and
ConvLSTMSeq2Seq), ``hub`` (model folders and Hub repos: download, read, push), ``surgery`` (widen a
trained model), ``fast_conv`` (the CPU inference convolution), ``inference`` (load_model, predict),
``metrics``, ``evaluation`` (a model and the baselines on many sequences), ``uploads``, ``video``
(MP4 / WebM in, MP4 out), ``atomic`` (files written whole or not at all), ``sketch`` (drawn digits),
``viz``, ``serving`` (what the demo does per request; never imports gradio) and ``cli`` (the
``framepred`` command).
"""

__version__ = "0.2.0"
