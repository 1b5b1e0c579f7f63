"""`cnn`: seed S4's shallow 2-D CNN on log-mel spectrograms (frames x mels x 1).

Three blocks Conv2D(16/32/64, 3x3, same) -> BatchNorm -> relu -> MaxPool(2), then global
average pooling, dropout and Dense(n) softmax. Two optional regularisers for small corpora:
`specaugment` (random time and frequency masks, a Keras layer active in training only, saved
with the model but inert at inference) and `mixup` (alpha of the Beta distribution; 0 = off).
"""

from __future__ import annotations

from typing import Any, ClassVar

from ser.models.keras_base import MatrixKerasModel, custom_objects


class CNN(MatrixKerasModel):
    """Shallow CNN over (frames, mels)."""

    arch: ClassVar[str] = "cnn"
    DEFAULTS: ClassVar[dict[str, Any]] = {
        **MatrixKerasModel.DEFAULTS,
        "filters": [16, 32, 64],
        "dropout": 0.3,
        "specaugment": False,
        "mixup": 0.0,
    }

    def _build_net(self, keras: Any) -> Any:
        p = self.params
        layers = keras.layers
        frames, mels = self.input_shape
        inputs = self._logmel_input(keras)
        x = layers.Reshape((frames, mels, 1), name="to_image")(inputs)
        if p["specaugment"]:
            x = custom_objects()["SpecAugment"](seed=self.seed, name="specaugment")(x)
        for i, f in enumerate(p["filters"], start=1):
            x = layers.Conv2D(int(f), 3, padding="same", name=f"conv2d_{i}")(x)
            x = layers.BatchNormalization(name=f"conv2d_{i}_bn")(x)
            x = layers.Activation("relu", name=f"conv2d_{i}_relu")(x)
            x = layers.MaxPooling2D(2, padding="same", name=f"pool_{i}")(x)
        x = layers.GlobalAveragePooling2D(name="gap")(x)
        x = layers.Dropout(float(p["dropout"]), name="dropout")(x)
        outputs = layers.Dense(self.n_classes, activation="softmax", name="softmax")(x)
        return keras.Model(inputs, outputs, name=self.arch)
