"""`hf_encoder`: utterance embeddings from a self-supervised speech encoder loaded by transformers
(wav2vec2, HuBERT, WavLM, data2vec-audio, ... anything `AutoModel` loads with hidden states).

Offline only: `model` is a local folder (config.json + weights), or a model id already in the local
Hugging Face cache (`huggingface-cli download ID` on a machine with network, or a copied cache);
HF_HUB_OFFLINE is set before transformers is imported and every load passes
`local_files_only=True`, so a missing model is an error naming what to do, never a download.
emotion2vec ships in FunASR/fairseq format, which transformers does not load: convert it first.

Needs the optional dependency group `encoders` (torch CPU build + transformers):
`pip install -e '.[encoders]'`; for a GPU, install a CUDA build of torch instead (README).

What the set computes: the model's own preprocessing (its preprocessor_config.json; without one,
zero mean / unit variance as wav2vec2's), the hidden states of the chosen `layers` (an index, where
0 is the input to the first transformer layer and N the last layer's output; `[first, last]`, the
mean of that inclusive range; `mean`, the mean of layers 1..N; `last`), averaged, then `pooling`
statistics over time. One clip per forward pass: padding a batch changes the output of models
without an attention mask (wav2vec2-base normalises over time), so clips are not padded together.
Clips longer than `chunk_seconds` are cut into windows whose frames are pooled together (attention
memory grows with the square of the length). GPU when torch sees one; one load per process.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ser.features.base import FeatureSet, per_clip
from ser.features.pooling import check_pooling, column_tag, file_sha256, pool, pooled_columns

INSTALL_HINT = ("install the optional encoders group: pip install -e '.[encoders]' "
                "(torch CPU build + transformers)")
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


def _offline() -> None:
    """Before transformers/huggingface_hub are imported: never reach the network, stay quiet."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


def locate(model: str, revision: str | None) -> tuple[Path, str | None]:
    """(local folder, cache revision hash or None) of a folder path or a cached model id.

    Raises ValueError saying what to do when neither exists locally."""
    p = Path(model).expanduser()
    if p.is_dir():
        if not (p / "config.json").is_file():
            raise ValueError(f"hf_encoder model folder {model}: no config.json (save the model "
                             f"with save_pretrained, or give a model id from the HF cache)")
        return p, revision
    if p.is_absolute() or model.startswith((".", "~")) or model.count("/") > 1:
        raise ValueError(f"hf_encoder model {model!r}: no such folder")
    _offline()
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        raise ValueError(f"hf_encoder model {model!r} is not a folder, and huggingface_hub is "
                         f"not installed to look it up in the cache: {INSTALL_HINT}") from None
    try:
        folder = Path(snapshot_download(model, revision=revision, local_files_only=True))
    except Exception as exc:  # noqa: BLE001 - LocalEntryNotFoundError and friends
        raise ValueError(
            f"hf_encoder model {model!r} is neither a folder nor in the local Hugging Face cache "
            f"({type(exc).__name__}); nothing is downloaded at run time: fetch it once with "
            f"`huggingface-cli download {model}` on a machine with network, or give a folder") \
            from None
    return folder, folder.name


def _config(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "config.json").read_text())


def layer_range(layers: Any, n_layers: int) -> tuple[int, int]:
    """Inclusive (first, last) hidden-state indices for the `layers` parameter."""
    if layers == "mean":
        return 1, n_layers
    if layers == "last":
        return n_layers, n_layers
    if isinstance(layers, int) and not isinstance(layers, bool):
        first = last = layers
    elif (isinstance(layers, list | tuple) and len(layers) == 2
          and all(isinstance(v, int) and not isinstance(v, bool) for v in layers)):
        first, last = int(layers[0]), int(layers[1])
    else:
        raise ValueError(f"feature set hf_encoder: layers must be `mean`, `last`, a layer index "
                         f"or [first, last], got {layers!r}")
    if not 0 <= first <= last <= n_layers:
        raise ValueError(f"feature set hf_encoder: layers {layers!r} outside 0..{n_layers} "
                         f"(0 = input to the first transformer layer, {n_layers} = last)")
    return first, last


_LOADED: dict[tuple[str, str | None], tuple[Any, Any, str]] = {}


def load(folder: Path, revision: str | None) -> tuple[Any, Any, str]:
    """(model in eval mode on its device, feature extractor, preprocessing note), once per
    process."""
    key = (str(folder.resolve()), revision)
    if key not in _LOADED:
        _offline()
        try:
            import torch
            import transformers
        except ImportError:
            raise ValueError(f"feature set hf_encoder needs torch and transformers: "
                             f"{INSTALL_HINT}") from None
        transformers.logging.set_verbosity_error()
        transformers.logging.disable_progress_bar()  # "Loading weights" bars in every job log
        model = transformers.AutoModel.from_pretrained(str(folder), local_files_only=True)
        device = "cuda" if torch.cuda.is_available() else "cpu"
        model.to(device).eval()
        if (folder / "preprocessor_config.json").is_file():
            fe = transformers.AutoFeatureExtractor.from_pretrained(str(folder),
                                                                   local_files_only=True)
            note = "the model's preprocessor_config.json"
        else:
            fe = transformers.Wav2Vec2FeatureExtractor(do_normalize=True)
            note = "default: zero mean, unit variance per clip (no preprocessor_config.json)"
        _LOADED[key] = (model, fe, note)
    return _LOADED[key]


class HFEncoderSet(FeatureSet):
    """Pooled hidden states of a transformers speech encoder (see the module docstring)."""

    name = "hf_encoder"
    kind = "functionals"
    params: dict[str, Any] = {"model": None, "revision": None, "layers": "mean",
                              "pooling": ["mean", "std"], "chunk_seconds": 30.0}
    description = "wav2vec2/HuBERT/WavLM/data2vec from a local folder or the HF cache"
    packages = ("torch", "transformers", "numpy")
    threads = 4
    mem_mb = 6000

    def resolve(self, params=None) -> dict[str, Any]:
        p = super().resolve(params)
        if not isinstance(p["model"], str) or not p["model"]:
            raise ValueError("feature set hf_encoder needs `model`: a local folder or a model id "
                             "in the Hugging Face cache, e.g. feature_params: {hf_encoder: "
                             "{model: /models/wavlm-base-plus}}")
        p["pooling"] = check_pooling(p["pooling"], self.name)
        if isinstance(p["layers"], list):
            p["layers"] = [int(v) if isinstance(v, int) else v for v in p["layers"]]
        layer_range(p["layers"], 10**6)  # the form; the bound needs the model's config
        if not isinstance(p["chunk_seconds"], int | float) or p["chunk_seconds"] < 1:
            raise ValueError(f"feature set hf_encoder: chunk_seconds must be >= 1, got "
                             f"{p['chunk_seconds']!r}")
        p["chunk_seconds"] = float(p["chunk_seconds"])
        return p

    def _folder(self, p: dict[str, Any]) -> tuple[Path, str | None, dict[str, Any]]:
        folder, rev = locate(p["model"], p["revision"])
        cfg = _config(folder)
        layer_range(p["layers"], int(cfg.get("num_hidden_layers", 0)))
        return folder, rev, cfg

    def check(self, params=None) -> None:
        self._folder(self.resolve(params))

    def columns(self, params=None) -> list[str]:
        p = self.resolve(params)
        _, _, cfg = self._folder(p)
        return pooled_columns(f"hf_{column_tag(p['model'])}", int(cfg["hidden_size"]),
                              p["pooling"])

    def provenance(self, params=None) -> dict[str, Any]:
        p = self.resolve(params)
        folder, rev, cfg = self._folder(p)
        n = int(cfg.get("num_hidden_layers", 0))
        first, last = layer_range(p["layers"], n)
        weights = {f: file_sha256(folder / f) for f in WEIGHT_FILES if (folder / f).is_file()}
        return {"encoder": "transformers AutoModel", "model": p["model"],
                "path": str(folder.resolve()), "revision": rev or cfg.get("_commit_hash"),
                "model_type": cfg.get("model_type"), "architectures": cfg.get("architectures"),
                "sha256": weights, "n_layers": n,
                "layer": f"mean of hidden states {first}..{last} (0 = input to layer 1)",
                "pooling": p["pooling"], "chunk_seconds": p["chunk_seconds"]}

    def _make_batch_extractor(self, params: dict[str, Any], threads: int | None
                              ) -> Callable[[list[tuple[np.ndarray, int]]],
                                            list[np.ndarray | Exception]]:
        folder, rev, cfg = self._folder(params)
        model, fe, _ = load(folder, rev)
        import torch

        if threads:
            torch.set_num_threads(int(threads))
        first, last = layer_range(params["layers"], int(cfg.get("num_hidden_layers", 0)))
        rate = int(getattr(fe, "sampling_rate", 16000))
        chunk = int(params["chunk_seconds"] * rate)
        device = next(model.parameters()).device
        stats = params["pooling"]

        def one(y: np.ndarray, sr: int) -> np.ndarray:
            if sr != rate:
                raise ValueError(f"{params['model']} needs {rate} Hz audio, got {sr} Hz")
            frames = []
            for s in range(0, y.size, chunk):
                inputs = fe(y[s:s + chunk], sampling_rate=rate, return_tensors="pt")
                with torch.inference_mode():
                    out = model(inputs["input_values"].to(device), output_hidden_states=True)
                hidden = torch.stack(out.hidden_states[first:last + 1]).mean(0)[0]
                frames.append(hidden.float().cpu().numpy())
            return pool(np.concatenate(frames), stats)

        return per_clip(one)


HF_ENCODER = HFEncoderSet()
