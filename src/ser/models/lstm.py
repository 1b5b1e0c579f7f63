"""`lstm`: seed S3's recurrent model over log-mel frames.

Stacked LSTM(128) layers (2 by default; `bidirectional` wraps each one) read the (frames, mels)
sequence; the last state goes through dropout to Dense(n) softmax.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ser.models.keras_base import MatrixKerasModel


class LSTM(MatrixKerasModel):
    """Stacked (optionally bidirectional) LSTM over frames."""

    arch: ClassVar[str] = "lstm"
    DEFAULTS: ClassVar[dict[str, Any]] = {
        **MatrixKerasModel.DEFAULTS,
        "units": 128,
        "layers": 2,
        "bidirectional": False,
        "dropout": 0.2,
    }

    def _build_net(self, keras: Any) -> Any:
        p = self.params
        layers = keras.layers
        n_layers = int(p["layers"])
        if n_layers < 1:
            raise ValueError(f"lstm: layers must be >= 1, got {n_layers}")
        inputs = self._logmel_input(keras)
        x = inputs
        for i in range(1, n_layers + 1):
            rnn = layers.LSTM(int(p["units"]), return_sequences=i < n_layers, name=f"lstm_{i}")
            x = layers.Bidirectional(rnn, name=f"bilstm_{i}")(x) if p["bidirectional"] else rnn(x)
        x = layers.Dropout(float(p["dropout"]), name="dropout")(x)
        outputs = layers.Dense(self.n_classes, activation="softmax", name="softmax")(x)
        return keras.Model(inputs, outputs, name=self.arch)
