"""`dnn`: the classification branch of seed S0's network, trained with plain cross-entropy.

S0 (sleekEagle/audio_emotion_classification, Keras summary in its README) stacks
Dense(384) -> BN -> relu -> Dense(20) -> BN -> relu -> Dense(n) -> BN -> relu -> softmax on the
384 IS09 functionals. The widths stay 384 and 20 whatever the input size (param `units`), so a
6373-dim ComParE vector does not explode the first layer. S0 also applies relu to the
batch-normalised logits before the softmax; that is kept for fidelity (`logit_relu`, default
True) and can be switched off.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ser.models.keras_base import KerasModel


def s0_hidden(keras: Any, x: Any, units: list[int], prefix: str, dropout: float) -> Any:
    """S0's hidden blocks: Dense -> BatchNorm -> relu (-> Dropout when dropout > 0)."""
    layers = keras.layers
    for i, size in enumerate(units, start=1):
        x = layers.Dense(int(size), name=f"{prefix}dense_{i}")(x)
        x = layers.BatchNormalization(name=f"{prefix}dense_{i}_bn")(x)
        x = layers.Activation("relu", name=f"{prefix}bn_{i}_relu")(x)
        if dropout > 0:
            x = layers.Dropout(dropout, name=f"{prefix}dropout_{i}")(x)
    return x


def s0_classifier(
    keras: Any, inputs: Any, units: list[int], n_classes: int, dropout: float, logit_relu: bool
) -> Any:
    """S0's classification branch up to the softmax: hidden blocks, Dense(n) -> BN (-> relu)."""
    layers = keras.layers
    x = s0_hidden(keras, inputs, units, "", dropout)
    k = len(units) + 1
    x = layers.Dense(n_classes, name=f"dense_{k}")(x)
    x = layers.BatchNormalization(name=f"dense_{k}_bn")(x)
    if logit_relu:
        x = layers.Activation("relu", name=f"bn_{k}_relu")(x)
    return layers.Activation("softmax", name="softmax")(x)


class DNN(KerasModel):
    """S0's classification branch: 384-20-n with BatchNorm after each Dense, relu, softmax."""

    arch: ClassVar[str] = "dnn"
    input_kind: ClassVar[str] = "vector"
    DEFAULTS: ClassVar[dict[str, Any]] = {
        **KerasModel.DEFAULTS,
        "units": [384, 20],
        "dropout": 0.0,
        "logit_relu": True,
    }

    def _build_net(self, keras: Any) -> Any:
        p = self.params
        inputs = keras.Input(shape=self.input_shape, name="data")
        outputs = s0_classifier(
            keras,
            inputs,
            list(p["units"]),
            self.n_classes,
            float(p["dropout"]),
            bool(p["logit_relu"]),
        )
        return keras.Model(inputs, outputs, name=self.arch)
