"""`inception`: seed S4's transfer-learning model, InceptionV3 on log-mel "images".

The (frames, mels) matrix becomes a 1-channel image, is resized to at least 75 x 75 (the
smallest InceptionV3 accepts; `image_size` overrides) and repeated to 3 channels, then goes
through InceptionV3(include_top=False), global average pooling, optional dropout, Dense(n)
softmax. ImageNet weights cannot be downloaded at run time: `weights` is None (random init) or
the path of a local no-top weights file (.h5 / .weights.h5). `freeze_base` trains only the head
as S4 did; its default (None) freezes exactly when pretrained weights are given.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from ser.models.keras_base import MatrixKerasModel

MIN_SIDE = 75


class Inception(MatrixKerasModel):
    """InceptionV3 base + new softmax head."""

    arch: ClassVar[str] = "inception"
    DEFAULTS: ClassVar[dict[str, Any]] = {
        **MatrixKerasModel.DEFAULTS,
        "weights": None,
        "freeze_base": None,
        "image_size": None,
        "dropout": 0.0,
    }

    def _setup(self, *args: Any, **kwargs: Any) -> None:
        super()._setup(*args, **kwargs)
        w = self.params["weights"]
        if w is not None and not isinstance(w, str):
            raise ValueError(f"inception: weights must be None or a file path, got {w!r}")
        freeze = self.params["freeze_base"]
        if freeze is not None and not isinstance(freeze, bool):
            raise ValueError(f"inception: freeze_base must be true, false or null, got {freeze!r}")
        size = self.params["image_size"]
        if size is not None and (
            not isinstance(size, list) or len(size) != 2 or min(size) < MIN_SIDE
        ):
            raise ValueError(
                f"inception: image_size must be [height, width] with both >= {MIN_SIDE}, "
                f"got {size!r}"
            )

    def image_size(self) -> tuple[int, int]:
        """(height, width) the spectrogram is resized to."""
        size = self.params["image_size"]
        if size is not None:
            return int(size[0]), int(size[1])
        frames, mels = self.input_shape
        return max(MIN_SIDE, frames), max(MIN_SIDE, mels)

    def _build_net(self, keras: Any) -> Any:
        p = self.params
        weights = p["weights"]
        if weights is not None:
            path = Path(weights).expanduser()
            if not path.is_file():
                raise FileNotFoundError(
                    f"inception: weights file {str(path)!r} does not exist; give a local "
                    "InceptionV3 no-top weights file (.h5/.weights.h5) or weights=None "
                    "(ImageNet weights cannot be downloaded at run time)"
                )
            weights = str(path)
        freeze = p["freeze_base"] if p["freeze_base"] is not None else weights is not None
        layers = keras.layers
        height, width = self.image_size()
        frames, mels = self.input_shape
        inputs = self._logmel_input(keras)
        x = layers.Reshape((frames, mels, 1), name="to_image")(inputs)
        if (height, width) != (frames, mels):
            x = layers.Resizing(height, width, name="resize")(x)
        x = layers.Concatenate(axis=-1, name="to_rgb")([x, x, x])
        base = keras.applications.InceptionV3(
            include_top=False, weights=weights, input_shape=(height, width, 3)
        )
        base.trainable = not freeze
        x = base(x, training=False) if freeze else base(x)
        x = layers.GlobalAveragePooling2D(name="gap")(x)
        if float(p["dropout"]) > 0:
            x = layers.Dropout(float(p["dropout"]), name="dropout")(x)
        outputs = layers.Dense(self.n_classes, activation="softmax", name="softmax")(x)
        return keras.Model(inputs, outputs, name=self.arch)
