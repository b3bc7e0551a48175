"""framepred: ConvLSTM video frame prediction on MovingMNIST.

Modules (import what you need; nothing heavy is imported here):
``data`` (digits, generator, test and validation sets, loaders), ``model`` (ConvLSTMSeq2Seq, its
config, Hub load/push, widen), ``fast_conv`` (the CPU inference convolution), ``inference``
(load_model, predict), ``metrics``, ``uploads``, ``sketch`` (drawn digits), ``viz``, and
``serving`` (what the demo does per request; never imports gradio).
"""

__version__ = "0.2.0"
