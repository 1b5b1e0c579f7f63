"""`conv1d`: seed S2's 18-layer Conv1D network over a feature vector (MFCC means in S2).

From S2's model summary (416,136 parameters at 40 inputs and 8 classes): the (d,) vector is
reshaped to (d, 1); Conv1D(128,5,same) relu, Conv1D(128,5,same) relu, Dropout(0.1),
MaxPooling1D(8), 3 x [Conv1D(128,5,same) relu], Dropout(0.1), Conv1D(128,5,same) (linear),
Flatten, Dense(n), softmax. S2 trained with RMSprop(lr=5e-5) for 100 epochs, batch 16; those are
the defaults. Pooling uses padding="same" so inputs shorter than 8 still work (identical shapes
and counts to S2 whenever d is a multiple of 8, as with 40 MFCCs).
"""

from __future__ import annotations

from typing import Any, ClassVar

from ser.models.keras_base import KerasModel


class Conv1D(KerasModel):
    """S2's Conv1D stack; RMSprop optimiser."""

    arch: ClassVar[str] = "conv1d"
    input_kind: ClassVar[str] = "vector"
    DEFAULTS: ClassVar[dict[str, Any]] = {
        "epochs": 100,
        "batch_size": 16,
        "learning_rate": 5e-5,
        "patience": 20,
        "filters": 128,
        "kernel_size": 5,
        "pool_size": 8,
        "dropout": 0.1,
    }

    def _build_net(self, keras: Any) -> Any:
        p = self.params
        layers = keras.layers
        f, k, drop = int(p["filters"]), int(p["kernel_size"]), float(p["dropout"])
        inputs = keras.Input(shape=self.input_shape, name="features")
        x = layers.Reshape((self.input_shape[0], 1), name="to_sequence")(inputs)
        x = layers.Conv1D(f, k, padding="same", activation="relu", name="conv1d_1")(x)
        x = layers.Conv1D(f, k, padding="same", activation="relu", name="conv1d_2")(x)
        x = layers.Dropout(drop, name="dropout_1")(x)
        x = layers.MaxPooling1D(int(p["pool_size"]), padding="same", name="max_pooling1d_1")(x)
        for i in (3, 4, 5):
            x = layers.Conv1D(f, k, padding="same", activation="relu", name=f"conv1d_{i}")(x)
        x = layers.Dropout(drop, name="dropout_2")(x)
        x = layers.Conv1D(f, k, padding="same", name="conv1d_6")(x)
        x = layers.Flatten(name="flatten_1")(x)
        x = layers.Dense(self.n_classes, name="dense_1")(x)
        outputs = layers.Activation("softmax", name="softmax")(x)
        return keras.Model(inputs, outputs, name=self.arch)

    def _optimizer(self, keras: Any) -> Any:
        return keras.optimizers.RMSprop(learning_rate=self.params["learning_rate"])
