"""framepred: ConvLSTM video frame prediction on MovingMNIST.

Modules (import what you need; nothing heavy is imported here):
``data`` (digits, generator, test set, loaders), ``model`` (ConvLSTMSeq2Seq and its config),
``inference`` (load_model, predict), ``metrics``, ``uploads``, ``viz``.
"""

__version__ = "0.2.0"
