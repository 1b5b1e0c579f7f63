"""One base class for all Keras families: build, compile, fit, early stopping, history, save/load.

A family only supplies `_build_net()` (an uncompiled functional network whose output is the
softmax, or softmax + extras) and, where it needs one, its own optimiser or training wrapper.
Networks are saved in the `.keras` format and loaded with `safe_mode=True`; custom layers are
registered under the package name ``ser``. Beside it goes a LiteRT copy (`model.tflite`), kept
only when the standalone LiteRT interpreter reproduces the network's outputs on a probe batch;
once it exists every prediction (the fold's evaluation and `ser predict`) runs through it, so
prediction needs no TensorFlow import (~0.1 s instead of ~5 s to start) and gives the same numbers
as evaluation. Networks LiteRT cannot run without TensorFlow's own ops (LSTM) stay on Keras.

Training happens through a separate wrapper model that shares the network's layers, so the saved
file holds the inference network only (no optimiser state, no training-only code).
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ser.io import atomic_path
from ser.models.base import BaseModel, read_meta, sample_weights

if TYPE_CHECKING:
    import pandas as pd

KERAS_FILE = "model.keras"
LITERT_FILE = "model.tflite"
#: largest |LiteRT - Keras| output difference on the probe batch for the copy to be kept
LITERT_TOLERANCE = 1e-5
HISTORY_COLUMNS = ["epoch", "loss", "accuracy", "val_loss", "val_accuracy"]

_TF_CONFIGURED = False


def configure_tf(threads: int = 1) -> None:
    """Set TF thread pools and op determinism once per process.

    Thread counts can only be set before TensorFlow runs its first op; if it already has, the
    RuntimeError is ignored (the trainer normally calls this first). GPUs are left visible.
    """
    global _TF_CONFIGURED
    if _TF_CONFIGURED:
        return
    import tensorflow as tf

    threads = max(1, int(threads))
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:
        pass  # TF already initialised: keep its pools
    tf.config.experimental.enable_op_determinism()
    _TF_CONFIGURED = True


def litert_available() -> bool:
    """Whether the standalone LiteRT interpreter (`ai-edge-litert`) can be imported."""
    try:
        import ai_edge_litert.interpreter  # noqa: F401
    except ImportError:
        return False
    return True


@contextlib.contextmanager
def _quiet_fd2() -> Iterator[None]:
    """Silence C code's stderr (file descriptor 2) for a moment: LiteRT prints "INFO: Created
    TensorFlow Lite XNNPACK delegate for CPU." on every first use. Errors still raise."""
    try:
        saved = os.dup(2)
    except OSError:  # no stderr at all
        yield
        return
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


class LiteRTRunner:
    """A network's LiteRT copy run by the standalone interpreter, in batches of `BATCH` rows.

    One thread: deterministic, and `ser predict` keeps the other cores for featurising."""

    BATCH = 256

    def __init__(self, path: Path) -> None:
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError:
            raise ImportError("the LiteRT runtime needs the ai-edge-litert package "
                              "(pip install ai-edge-litert), or use the keras runtime") from None
        self.path = Path(path)
        self.interp = Interpreter(model_path=str(path), num_threads=1)
        inputs, outputs = self.interp.get_input_details(), self.interp.get_output_details()
        if len(inputs) != 1 or len(outputs) != 1:
            raise ValueError(f"{path}: expected one input and one output, got "
                             f"{len(inputs)} and {len(outputs)}")
        self.input, self.output = inputs[0]["index"], outputs[0]["index"]
        self.rows: int | None = None

    def __call__(self, X: np.ndarray) -> np.ndarray:
        X = np.ascontiguousarray(X, dtype=np.float32)
        out = []
        for i in range(0, len(X), self.BATCH):
            chunk = X[i:i + self.BATCH]
            if self.rows != len(chunk):
                self.interp.resize_tensor_input(self.input, list(chunk.shape))
                with _quiet_fd2():  # the delegate announces itself here
                    self.interp.allocate_tensors()
                self.rows = len(chunk)
            self.interp.set_tensor(self.input, chunk)
            self.interp.invoke()
            out.append(np.array(self.interp.get_tensor(self.output), copy=True))
        return np.concatenate(out)


@functools.cache
def custom_objects() -> dict[str, Any]:
    """Define and register the custom Keras layers (once, lazily, so importing stays fast)."""
    import keras
    from keras import ops

    @keras.saving.register_keras_serializable(package="ser")
    class SpecAugment(keras.layers.Layer):
        """SpecAugment (Park et al. 2019) time and frequency masking, active in training only.

        Input (batch, frames, mels, channels). Each mask zeroes a band whose width is drawn
        uniformly from [0, max_width * axis length]; zero is the feature mean after scaling.
        """

        def __init__(
            self,
            time_masks: int = 2,
            time_width: float = 0.1,
            freq_masks: int = 2,
            freq_width: float = 0.15,
            seed: int | None = None,
            **kwargs: Any,
        ) -> None:
            super().__init__(**kwargs)
            self.time_masks = int(time_masks)
            self.time_width = float(time_width)
            self.freq_masks = int(freq_masks)
            self.freq_width = float(freq_width)
            self.seed = seed
            self.seed_generator = keras.random.SeedGenerator(seed)

        def _band(self, batch: Any, length: int, max_frac: float) -> Any:
            """(batch, length) float mask: 1 inside one random band per row, else 0."""
            width = ops.floor(
                keras.random.uniform((batch,), seed=self.seed_generator) * (max_frac * length + 1)
            )
            start = ops.floor(
                keras.random.uniform((batch,), seed=self.seed_generator) * (length - width + 1)
            )
            pos = ops.cast(ops.arange(length), "float32")[None, :]
            inside = ops.logical_and(pos >= start[:, None], pos < (start + width)[:, None])
            return ops.cast(inside, "float32")

        def call(self, x: Any, training: bool | None = None) -> Any:
            if not training:
                return x
            batch = ops.shape(x)[0]
            frames, mels = x.shape[1], x.shape[2]
            keep_t = ops.ones((batch, frames), "float32")
            for _ in range(self.time_masks):
                keep_t = keep_t * (1.0 - self._band(batch, frames, self.time_width))
            keep_f = ops.ones((batch, mels), "float32")
            for _ in range(self.freq_masks):
                keep_f = keep_f * (1.0 - self._band(batch, mels, self.freq_width))
            mask = keep_t[:, :, None, None] * keep_f[:, None, :, None]
            return x * ops.cast(mask, x.dtype)

        def compute_output_shape(self, input_shape: tuple) -> tuple:
            return input_shape

        def get_config(self) -> dict[str, Any]:
            return {
                **super().get_config(),
                "time_masks": self.time_masks,
                "time_width": self.time_width,
                "freq_masks": self.freq_masks,
                "freq_width": self.freq_width,
                "seed": self.seed,
            }

    return {"ser>SpecAugment": SpecAugment, "SpecAugment": SpecAugment}


@functools.cache
def _mixup_dataset_class() -> type:
    """A PyDataset yielding mixup batches (Zhang et al. 2018); defined lazily (needs keras)."""
    import keras

    class MixupDataset(keras.utils.PyDataset):
        """Per epoch: seeded shuffle, one partner per sample, one lambda ~ Beta(a, a) per batch."""

        def __init__(
            self,
            X: np.ndarray,
            Y: np.ndarray,
            sample_weight: np.ndarray,
            batch_size: int,
            alpha: float,
            seed: int,
        ) -> None:
            super().__init__(workers=1, use_multiprocessing=False)
            self.X, self.Y, self.sw = X, Y, sample_weight
            self.batch_size, self.alpha = batch_size, alpha
            self.rng = np.random.default_rng(seed)
            self._plan()

        def _plan(self) -> None:
            n = len(self.X)
            self.order = self.rng.permutation(n)
            self.partner = self.rng.permutation(n)
            self.lams = self.rng.beta(self.alpha, self.alpha, size=len(self)).astype(np.float32)

        def __len__(self) -> int:
            return math.ceil(len(self.X) / self.batch_size)

        def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            sl = slice(i * self.batch_size, (i + 1) * self.batch_size)
            a, b, lam = self.order[sl], self.partner[sl], self.lams[i]
            x = lam * self.X[a] + (1 - lam) * self.X[b]
            y = lam * self.Y[a] + (1 - lam) * self.Y[b]
            w = lam * self.sw[a] + (1 - lam) * self.sw[b]
            return x.astype(np.float32), y.astype(np.float32), w.astype(np.float32)

        def on_epoch_end(self) -> None:
            self._plan()

    return MixupDataset


class KerasModel(BaseModel):
    """Common Keras behaviour; subclasses implement `_build_net(keras)`."""

    DEFAULTS: ClassVar[dict[str, Any]] = {
        "epochs": 100,
        "batch_size": 32,
        "learning_rate": 1e-3,
        "patience": 10,
    }
    NULLABLE: ClassVar[frozenset[str]] = frozenset({"patience"})
    TENSORFLOW: ClassVar[bool] = True
    #: extra outputs after the n softmax columns (conf_dnn: 1)
    n_extra_outputs: ClassVar[int] = 0

    net: Any  # keras.Model (None when loaded for the LiteRT runtime)
    #: the verified LiteRT copy once saved or loaded: predictions run through it
    lite: LiteRTRunner | None = None
    #: what became of the LiteRT export (written into model.json)
    litert_info: dict[str, Any] | None = None

    # -- construction -------------------------------------------------------------------

    def _init_state(self) -> None:
        import keras

        keras.utils.set_random_seed(self.seed)
        self.net = self._build_net(keras)
        self.lite = None

    def _need_net(self, what: str) -> Any:
        if self.net is None:
            raise RuntimeError(f"{self.arch}: {what} needs the Keras network, but this model was "
                               "loaded for the LiteRT runtime; load it with runtime='keras'")
        return self.net

    def _build_net(self, keras: Any) -> Any:
        raise NotImplementedError

    def _optimizer(self, keras: Any) -> Any:
        return keras.optimizers.Adam(learning_rate=self.params["learning_rate"])

    def _trainer(self, keras: Any, soft_labels: bool) -> Any:
        """The compiled model that `fit` trains; it shares every layer with `self.net`."""
        trainer = keras.Model(self.net.inputs, self.net.outputs, name=f"{self.arch}_trainer")
        if soft_labels:
            loss = keras.losses.CategoricalCrossentropy()
            metrics = [keras.metrics.CategoricalAccuracy(name="accuracy")]
        else:
            loss = keras.losses.SparseCategoricalCrossentropy()
            metrics = [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
        trainer.compile(optimizer=self._optimizer(keras), loss=loss, metrics=metrics)
        return trainer

    def count_params(self) -> tuple[int, int]:
        """(total, trainable) parameter counts of the network."""
        self._need_net("count_params")
        trainable = sum(int(np.prod(w.shape)) for w in self.net.trainable_weights)
        return int(self.net.count_params()), trainable

    def n_parameters(self) -> int | None:
        """All weights of the network (None once only the LiteRT copy is loaded)."""
        return self.count_params()[0] if getattr(self, "net", None) is not None else None

    def _versions(self) -> dict[str, str]:
        import keras

        return {"keras": keras.__version__}

    def meta(self) -> dict[str, Any]:
        """model.json contents, with what became of the LiteRT export."""
        return {**super().meta(), "litert": self.litert_info}

    # -- training -------------------------------------------------------------------------

    def _extra_callbacks(self, keras: Any, trainer: Any) -> list[Any]:
        return []

    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        X_val: np.ndarray | None = None,
        y_val: np.ndarray | None = None,
        *,
        class_weight: dict[int, float] | None = None,
        threads: int = 1,
        verbose: int = 0,
    ) -> pd.DataFrame:
        """Train from the current weights; early-stop on (X_val, y_val) restoring the best epoch."""
        self._need_net("fit")
        self.lite = None  # new weights: a LiteRT copy of the old ones no longer applies
        X = self._check_X(X)
        y = self._check_y(y, len(X))
        validation = None
        if X_val is not None and y_val is not None and len(X_val):
            validation = (self._check_X(X_val, "X_val"), self._check_y(y_val, len(X_val), "y_val"))
        configure_tf(threads)
        import keras

        keras.utils.set_random_seed(self.seed)  # same seed + data -> same shuffles and masks
        p = self.params
        alpha = float(p.get("mixup", 0.0) or 0.0)
        trainer = self._trainer(keras, soft_labels=alpha > 0)
        sw = sample_weights(y, class_weight)

        callbacks = self._extra_callbacks(keras, trainer)
        if validation is not None and p["patience"] is not None:
            callbacks.append(
                keras.callbacks.EarlyStopping(
                    monitor="val_loss", patience=int(p["patience"]), restore_best_weights=True
                )
            )
        if alpha > 0:
            eye = np.eye(self.n_classes, dtype=np.float32)
            data = _mixup_dataset_class()(
                X,
                eye[y],
                sw if sw is not None else np.ones(len(y), np.float32),
                int(p["batch_size"]),
                alpha,
                self.seed,
            )
            if validation is not None:
                validation = (validation[0], eye[validation[1]])
            hist = trainer.fit(
                data,
                epochs=int(p["epochs"]),
                validation_data=validation,
                callbacks=callbacks,
                shuffle=False,
                verbose=verbose,
            )
        else:
            hist = trainer.fit(
                X,
                y,
                sample_weight=sw,
                batch_size=int(p["batch_size"]),
                epochs=int(p["epochs"]),
                validation_data=validation,
                callbacks=callbacks,
                shuffle=True,
                verbose=verbose,
            )
        frame = history_frame(hist.history)
        for cb in callbacks:  # callbacks may record per-epoch extras (e.g. conf_dnn's lambda)
            for col, values in getattr(cb, "columns", {}).items():
                if len(values) == len(frame):
                    frame[col] = np.asarray(values, dtype=np.float64)
        return frame

    # -- inference ------------------------------------------------------------------------

    def _predict_raw(self, X: np.ndarray) -> np.ndarray:
        X = self._check_X(X)
        if len(X) == 0:
            return np.zeros((0, self.n_classes + self.n_extra_outputs), np.float32)
        if self.lite is not None:
            return self.lite(X)
        batch = max(int(self.params["batch_size"]), 256)
        return np.asarray(self.net.predict(X, batch_size=batch, verbose=0))

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Softmax output, (n, n_classes) float64 rows summing to 1."""
        return self._normalise(self._predict_raw(X)[:, : self.n_classes])

    # -- persistence ----------------------------------------------------------------------

    def _save_files(self, model_dir: Path) -> None:
        net = self._need_net("save")
        with atomic_path(model_dir / KERAS_FILE, suffix=".keras") as tmp:
            net.save(tmp)
        self.litert_info = self._export_litert(Path(model_dir))

    def _export_litert(self, model_dir: Path) -> dict[str, Any]:
        """Write `model.tflite` if LiteRT reproduces the network; say why not otherwise."""
        (model_dir / LITERT_FILE).unlink(missing_ok=True)
        self.lite = None
        if not litert_available():
            return {"exported": False, "reason": "ai-edge-litert is not installed"}
        import io

        probe = np.random.default_rng(self.seed).standard_normal(
            (8, *self.input_shape)).astype(np.float32)
        try:
            with atomic_path(model_dir / LITERT_FILE, suffix=".tflite") as tmp:
                with contextlib.redirect_stdout(io.StringIO()):
                    self.net.export(str(tmp), format="litert", verbose=False)
                want = np.asarray(self.net.predict(probe, verbose=0))
                got = LiteRTRunner(tmp)(probe)
                diff = float(np.max(np.abs(got - want)))
                if not diff <= LITERT_TOLERANCE:
                    raise ValueError(f"LiteRT output differs from Keras by {diff:.2g}")
        except Exception as exc:  # noqa: BLE001 - no copy is fine: prediction stays on Keras
            reason = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
            return {"exported": False, "reason": f"{type(exc).__name__}: {reason}"}
        import ai_edge_litert

        self.lite = LiteRTRunner(model_dir / LITERT_FILE)
        return {"exported": True, "file": LITERT_FILE, "max_abs_diff_on_probe": diff,
                "ai_edge_litert": getattr(ai_edge_litert, "__version__", "?")}

    def _load_files(self, model_dir: Path) -> None:
        lite = model_dir / LITERT_FILE
        if self.runtime == "litert" and not lite.is_file():
            info = (read_meta(model_dir).get("litert") or {}).get("reason", "not exported")
            raise FileNotFoundError(f"{model_dir} has no LiteRT copy ({info}); "
                                    "use the keras runtime")
        if self.runtime != "keras" and lite.is_file() and (
                self.runtime == "litert" or litert_available()):
            self.lite, self.net = LiteRTRunner(lite), None
            return
        import keras

        self.lite = None
        objs = custom_objects()
        self.net = keras.saving.load_model(
            model_dir / KERAS_FILE, custom_objects=objs, compile=False, safe_mode=True
        )


class MatrixKerasModel(KerasModel):
    """Keras families over log-mel matrices (frames, mels): their input kind, defaults, input."""

    input_kind: ClassVar[str] = "matrix"
    DEFAULTS: ClassVar[dict[str, Any]] = {**KerasModel.DEFAULTS, "epochs": 50, "patience": 8}

    def _logmel_input(self, keras: Any) -> Any:
        """The network's (frames, mels) input layer."""
        return keras.Input(shape=self.input_shape, name="logmel")


def history_frame(history: dict[str, list[float]]) -> pd.DataFrame:
    """Keras History dict -> one row per epoch (1-based) with the standard columns first."""
    import pandas as pd

    n = len(history.get("loss", []))
    frame = pd.DataFrame({"epoch": np.arange(1, n + 1)})
    for col in HISTORY_COLUMNS[1:]:
        frame[col] = np.asarray(history.get(col, [np.nan] * n), dtype=np.float64)
    for col, values in history.items():
        if col not in frame.columns:
            frame[col] = np.asarray(values, dtype=np.float64)
    return frame
