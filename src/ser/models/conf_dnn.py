"""`conf_dnn`: seed S0's network with the confidence branch of DeVries & Taylor (2018).

"Learning Confidence for Out-of-Distribution Detection in Neural Networks" adds a sigmoid
confidence c next to the softmax p. During training, for a random half of each batch ("hints")
the prediction is interpolated towards the truth, p' = c*p + (1-c)*onehot(y), so the network may
ask for hints at the price of a penalty: loss = CE(p', y) + lambda * mean(-log c). With a
`budget` beta, lambda is adapted every batch as in the paper's code (lambda /= 0.99 when
-log c > beta, else lambda /= 1.01). At inference the confidence is an OOD / error score.
The validation loss (early stopping) is the plain cross-entropy of p, without hints or penalty.

Network (S0's Keras summary, 314,483 parameters of which 312,855 trainable at 384 inputs and
6 classes): classification branch as in `dnn`; confidence branch Dense(384)-BN-relu-Dense(20)-
BN-relu-Dense(1, sigmoid); both outputs concatenated to n+1 columns. Training goes through a
wrapper model with its own `compute_loss`; only the plain functional network is saved, so
loading needs no custom code at all.
"""

from __future__ import annotations

import functools
from typing import Any, ClassVar

import numpy as np

from ser.models.dnn import DNN, s0_classifier, s0_hidden


@functools.cache
def _trainer_class() -> type:
    """The DeVries training wrapper, defined lazily because it subclasses keras.Model."""
    import keras
    from keras import ops

    class ConfidenceTrainer(keras.Model):
        """Shares the network's layers; adds the hint/penalty loss and the adaptive lambda."""

        def __init__(
            self, net: Any, n_classes: int, lmbda: float, budget: float | None, seed: int
        ) -> None:
            super().__init__(name="conf_dnn_trainer")
            self.net = net
            self.n_classes = n_classes
            self.budget = budget
            self.lmbda = keras.Variable(
                float(lmbda), trainable=False, dtype="float32", name="lmbda"
            )
            self.hint_seed = keras.random.SeedGenerator(seed)

        def call(self, x: Any, training: bool | None = None) -> Any:
            return self.net(x, training=training)

        def compute_loss(
            self,
            x: Any = None,
            y: Any = None,
            y_pred: Any = None,
            sample_weight: Any = None,
            training: bool = True,
        ) -> Any:
            eps = 1e-12
            n = self.n_classes
            p = ops.clip(y_pred[:, :n], eps, 1.0 - eps)
            c = ops.clip(y_pred[:, n:], eps, 1.0 - eps)
            onehot = ops.one_hot(ops.cast(ops.reshape(y, (-1,)), "int32"), n)
            if training:
                hint = ops.cast(
                    keras.random.uniform(ops.shape(c), seed=self.hint_seed) < 0.5, c.dtype
                )
                c_used = c * hint + (1.0 - hint)  # no hints (c := 1) for the other half
                p = c_used * p + (1.0 - c_used) * onehot
            ce = -ops.sum(onehot * ops.log(p), axis=-1)
            if sample_weight is not None:
                ce = ce * ops.cast(ops.reshape(sample_weight, (-1,)), ce.dtype)
            if not training:
                # validation loss = plain cross-entropy of p: comparable across epochs even
                # while lambda moves, so early stopping tracks classification quality
                return ops.mean(ce)
            conf_loss = ops.mean(-ops.log(c))
            loss = ops.mean(ce) + self.lmbda * conf_loss
            if self.budget is not None:
                self.lmbda.assign(
                    ops.where(conf_loss > self.budget, self.lmbda / 0.99, self.lmbda / 1.01)
                )
            return loss

    return ConfidenceTrainer


class ConfDNN(DNN):
    """S0's two-branch network; `confidence()` returns the sigmoid branch in [0, 1]."""

    arch: ClassVar[str] = "conf_dnn"
    DEFAULTS: ClassVar[dict[str, Any]] = {**DNN.DEFAULTS, "lmbda": 0.2, "budget": None}
    n_extra_outputs: ClassVar[int] = 1

    def _build_net(self, keras: Any) -> Any:
        p = self.params
        units, dropout = list(p["units"]), float(p["dropout"])
        inputs = keras.Input(shape=self.input_shape, name="data")
        probs = s0_classifier(keras, inputs, units, self.n_classes, dropout, bool(p["logit_relu"]))
        h = s0_hidden(keras, inputs, units, "conf_", dropout)
        conf = keras.layers.Dense(1, activation="sigmoid", name="confidence")(h)
        outputs = keras.layers.Concatenate(name="probs_confidence")([probs, conf])
        return keras.Model(inputs, outputs, name=self.arch)

    def _trainer(self, keras: Any, soft_labels: bool) -> Any:
        if soft_labels:
            raise ValueError("conf_dnn does not support soft labels (mixup)")
        n = self.n_classes
        budget = self.params["budget"]
        trainer = _trainer_class()(
            self.net,
            n,
            float(self.params["lmbda"]),
            None if budget is None else float(budget),
            self.seed,
        )

        def accuracy(y_true: Any, y_pred: Any) -> Any:
            return keras.metrics.sparse_categorical_accuracy(y_true, y_pred[:, :n])

        def mean_confidence(y_true: Any, y_pred: Any) -> Any:
            return y_pred[:, n]

        trainer.compile(
            optimizer=self._optimizer(keras),
            metrics=[
                keras.metrics.MeanMetricWrapper(accuracy, name="accuracy"),
                keras.metrics.MeanMetricWrapper(mean_confidence, name="confidence"),
            ],
        )
        return trainer

    def _extra_callbacks(self, keras: Any, trainer: Any) -> list[Any]:
        class LambdaLog(keras.callbacks.Callback):
            """Record lambda at each epoch end (it moves when a budget is set)."""

            def __init__(self) -> None:
                super().__init__()
                self.columns: dict[str, list[float]] = {"lmbda": []}

            def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
                self.columns["lmbda"].append(float(keras.ops.convert_to_numpy(trainer.lmbda)))

        return [LambdaLog()]

    def confidence(self, X: np.ndarray) -> np.ndarray:
        """The confidence branch c in [0, 1] (higher = more likely in-distribution and right)."""
        return np.asarray(self._predict_raw(X)[:, self.n_classes], dtype=np.float64)
