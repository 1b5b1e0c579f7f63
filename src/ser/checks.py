"""Start-up checks: every config mistake knowable before decoding stops the run at once.

Why: a typo such as `modles:` used to print ~390 lines of jsonschema, and mistakes that file
names reveal (more folds than speakers, a folder with no matching file, a holdout speaker that
does not exist, speakers that cannot be read from the names) surfaced only after minutes of
decoding. Here each problem is one line naming the key and what to do; `start` runs them all for
the Snakefile and for `ser check-config`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ser.corpora import load_table
from ser.corpora.base import UNKNOWN_SPEAKER
from ser.errors import ConfigError, nearest
from ser.plan import Plan

SCHEMA = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"
MAX_VALUE = 60  # characters of a value quoted in a message


# ---------------------------------------------------------------------------- YAML files
def load_yaml(path: str | Path) -> dict:
    """Read a config file; a syntax error names the file, line and column."""
    import yaml

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{where}: YAML syntax error: {problem}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a config is a YAML mapping (key: value), not a "
                          f"{type(data).__name__}")
    return data


# ---------------------------------------------------------------------------- schema
def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= MAX_VALUE else text[:MAX_VALUE - 3] + "..."


def _key_path(parts: Iterable[Any]) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def _nearest(word: str, choices: Iterable[str]) -> str:
    found = nearest(word, choices)
    return f"; did you mean {found}?" if found else ""


def _describe(error: Any) -> list[str]:
    """One line per problem of a jsonschema ValidationError."""
    from jsonschema.exceptions import best_match

    where = _key_path(error.absolute_path)
    kind = error.validator
    if kind == "additionalProperties":
        known = list(error.schema.get("properties", {}))
        extra = [k for k in error.instance if k not in known]
        lines = []
        for key in extra:
            path = f"{where}.{key}" if where else str(key)
            hint = _nearest(key, known) or (f"; valid keys: {', '.join(known)}" if known else "")
            lines.append(f"{path}: unknown key{hint}")
        return lines
    if kind == "enum":
        choices = [str(c) for c in error.validator_value]
        return [f"{where}: {_short(error.instance)} is not one of {', '.join(choices)}"
                f"{_nearest(error.instance, choices)}"]
    if kind == "required":
        missing = re.findall(r"'([^']+)' is a required property", error.message)
        key = missing[0] if missing else error.message
        return [f"{where + '.' if where else ''}{key}: missing (required)"]
    if kind == "type":
        wanted = error.validator_value
        wanted = " or ".join(wanted) if isinstance(wanted, list) else wanted
        return [f"{where}: {_short(error.instance)} should be {_article(wanted)}"]
    if kind in ("oneOf", "anyOf") and error.parent is None and error.schema.get("description"):
        return [f"{where}: {_short(error.instance)} is not valid; expected "
                f"{error.schema['description'].split(': ', 1)[-1]}"]
    if kind in ("oneOf", "anyOf") and error.context:
        return _describe(best_match(error.context))
    if kind == "propertyNames" or "propertyNames" in error.schema_path:
        return [f"{where}: name {_short(error.instance)} may only use letters, digits, _ and - "
                f"(starting with a letter or digit)"]
    if kind == "minProperties":
        return [f"{where}: needs at least {error.validator_value} entry"]
    if kind == "minItems":
        return [f"{where}: needs at least {error.validator_value} item(s)"]
    if kind == "uniqueItems":
        return [f"{where}: lists an item twice: {_short(error.instance)}"]
    message = error.message if len(error.message) <= 160 else error.message[:157] + "..."
    return [f"{where or 'config'}: {message}"]


def _article(word: str) -> str:
    return f"an {word}" if word[:1] in "aeiou" else f"a {word}"


def _validator(schema: Mapping[str, Any]) -> Any:
    """Draft 2020-12 validator that also fills schema defaults in (as snakemake.utils.validate)."""
    from jsonschema import Draft202012Validator, validators

    check_properties = Draft202012Validator.VALIDATORS["properties"]

    def properties(validator: Any, props: Mapping, instance: Any, sub: Mapping) -> Any:
        if isinstance(instance, dict):
            for name, subschema in props.items():
                if "default" in subschema:
                    instance.setdefault(name, _copy(subschema["default"]))
        yield from check_properties(validator, props, instance, sub)

    return validators.extend(Draft202012Validator, {"properties": properties})(schema)


def _copy(value: Any) -> Any:
    import copy

    return copy.deepcopy(value)


def load_schema(path: str | Path = SCHEMA) -> dict:
    import yaml

    return yaml.safe_load(Path(path).read_text(encoding="utf-8"))


def schema_problems(config: dict, schema: Mapping[str, Any] | None = None) -> list[str]:
    """Validate `config` (filling defaults in place); one line per problem, in key order."""
    schema = schema if schema is not None else load_schema()
    errors = sorted(_validator(schema).iter_errors(config),
                    key=lambda e: [str(p) for p in e.absolute_path])
    lines: list[str] = []
    for e in errors:
        for line in _describe(e):
            if line not in lines:
                lines.append(line)
    return lines


# ---------------------------------------------------------------------------- corpora
RAVDESS_LABELS = ("neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised")


def _names(values: Iterable[str], n: int = 8) -> str:
    values = sorted(values)
    more = f", ... ({len(values)} in all)" if len(values) > n else ""
    return ", ".join(values[:n]) + more


def _split_key(plan: Plan, name: str, key: str) -> str:
    own = plan.ds(name).get("split", {})
    return f"datasets.{name}.split.{key}" if key in own else f"split.{key}"


def _corpus_view(plan: Plan, name: str) -> tuple[list[str] | None, set[str], list[str]]:
    """(speaker of every usable clip, labels seen, problems) as file names tell them.

    Speakers are None when they cannot be known before the run (a corpus generated by it).
    """
    ds, fmt = plan.ds(name), plan.fmt(name)
    if plan.is_demo(name):
        n = int(ds["demo"].get("speakers", 6))
        return [f"{i:02d}" for i in range(1, n + 1)], set(RAVDESS_LABELS), []
    if plan.is_audio(name):
        try:
            entries = plan.entries(name)
        except ValueError as exc:  # a list without its columns, a bad speaker option, ...
            return [], set(), [f"datasets.{name}: {exc}"]
        labels = {e.label for e in entries if e.label}
        usable = [e for e in entries if e.reject is None]
        if not usable:
            reasons = Counter((e.reject or "").split(":")[0] for e in entries)
            why = "; ".join(f"{n} {r}" for r, n in reasons.most_common(3))
            where = f"datasets.{name}.path"
            if not entries:
                return [], labels, [f"{where}: {ds['path']} holds no file"]
            hint = "check `format`" + (" and `emotions`" if plan.config.get("emotions") else "")
            return [], labels, [f"{where}: none of the {len(entries)} files of {ds['path']} is "
                                f"usable ({why}); {hint}"]
        return [e.speaker or UNKNOWN_SPEAKER for e in usable], labels, []
    if fmt == "merge":
        speakers, labels = [], set()
        for src in ds.get("sources") or []:
            spk, lab, _ = _corpus_view(plan, src)
            if spk is None:
                return None, labels, []
            speakers += [f"{src}:{s}" for s in spk]
            labels |= {(ds.get("label_map") or {}).get(x, x) for x in lab}
        return speakers, labels, []
    try:
        table = load_table(plan.workdir / ds["path"], ds.get("label_column", "label"),
                           ds.get("speaker_column", "speaker"))
    except ValueError as exc:
        return [], set(), [f"datasets.{name}.path: {exc}"]
    return list(table["speaker"].astype(str)), set(table["label"].astype(str)), []


def _split_problems(plan: Plan, name: str, speakers: Sequence[str]) -> list[str]:
    s = plan.split_cfg(name)
    protocol = s["protocol"]
    if protocol == "random" or not speakers:
        return []
    distinct = set(speakers)
    fmt = plan.fmt(name)
    if distinct == {UNKNOWN_SPEAKER}:
        regex = plan.ds(name).get("speaker_regex")
        if regex and plan.is_audio(name):
            example = Path(next(e.rel for e in plan.entries(name) if e.reject is None)).name
            return [f"datasets.{name}.speaker_regex: '{regex}' matches no file name (e.g. "
                    f"{example}); fix it (its first group is the speaker), or use protocol "
                    f"random (not speaker independent)"]
        how = {"folders": "set speaker_regex or speaker_from",
               "list": "add a speaker column (speaker_column) or set speaker_from",
               "table": "add a speaker column (speaker_column)"}.get(fmt, "check the file names")
        return [f"{_split_key(plan, name, 'protocol')}: {protocol} needs speakers, but no "
                f"speaker could be read for dataset {name}; {how}, or use protocol random "
                f"(not speaker independent)"]
    if UNKNOWN_SPEAKER in distinct and plan.is_audio(name):
        # some files got a speaker and some did not: the rest would be pooled as one made-up
        # speaker "unknown", whose clips could sit in training and test folds at once
        ds = plan.ds(name)
        rule = next((k for k in ("speaker_regex", "speaker_from") if ds.get(k) is not None), None)
        if rule is not None:
            usable = [e for e in plan.entries(name) if e.reject is None]
            missed = [e for e in usable if (e.speaker or UNKNOWN_SPEAKER) == UNKNOWN_SPEAKER]
            what = "file name" if rule == "speaker_regex" else "file path"
            return [f"datasets.{name}.{rule}: {ds[rule]!r} finds a speaker in "
                    f"{len(usable) - len(missed)} of {len(usable)} {what}s; the other "
                    f"{len(missed)} (e.g. {missed[0].rel}) would count as one speaker "
                    f"'unknown'; fix it so that it fits every file, or move those files out"]
    lines = []
    listing = _names(distinct)
    if protocol == "speaker_kfold":
        if s.get("fold_speakers"):
            key = _split_key(plan, name, "fold_speakers")
            named = {str(x) for group in s["fold_speakers"] for x in group}
            if named - distinct:
                lines.append(f"{key}: {_names(named - distinct)} not among the speakers of "
                             f"dataset {name} ({listing})")
            if distinct - named:
                lines.append(f"{key}: speakers {_names(distinct - named)} of dataset {name} are "
                             f"in no fold; every speaker must be test data in one fold")
        elif int(s["folds"]) > len(distinct):
            lines.append(f"{_split_key(plan, name, 'folds')}: {s['folds']} folds but dataset "
                         f"{name} has {len(distinct)} speaker(s) ({listing}); set folds to at "
                         f"most {len(distinct)} or use protocol loso")
    elif protocol == "loso" and len(distinct) < 2:
        lines.append(f"{_split_key(plan, name, 'protocol')}: loso needs at least 2 speakers; "
                     f"dataset {name} has {listing}")
    elif protocol == "holdout_speakers":
        key = _split_key(plan, name, "holdout_speakers")
        chosen = {str(x) for x in s.get("holdout_speakers") or []}
        if chosen - distinct:
            lines.append(f"{key}: {_names(chosen - distinct)} not among the speakers of dataset "
                         f"{name} ({listing})")
        elif chosen >= distinct:
            lines.append(f"{key}: lists every speaker of dataset {name}; nothing is left to "
                         f"train on")
    return lines


def corpus_problems(plan: Plan) -> list[str]:
    """Problems the file names (and table columns) already reveal, one line each."""
    lines: list[str] = []
    labels_of: dict[str, set[str]] = {}
    for name in plan.datasets:
        speakers, labels, problems = _corpus_view(plan, name)
        labels_of[name] = labels
        lines += problems
        if speakers is not None and not problems:
            lines += _split_problems(plan, name, speakers)
    emotions = plan.config.get("emotions")
    if emotions:
        seen = set().union(*labels_of.values()) if labels_of else set()
        absent = [e for e in emotions if e not in seen]
        if absent:
            lines.append(f"emotions: no dataset has {', '.join(absent)} (labels found: "
                         f"{_names(seen) or 'none'}); remove it from emotions or add a corpus "
                         f"that has it")
    for i, item in enumerate(plan.config.get("cross_corpus") or []):
        a, b = labels_of.get(item["train"], set()), labels_of.get(item["test"], set())
        if emotions:
            a, b = a & set(emotions), b & set(emotions)
        if a and b and not a & b:
            lines.append(f"cross_corpus[{i}]: {item['train']} ({_names(a)}) and {item['test']} "
                         f"({_names(b)}) share no label; remove the pair (it is scored on "
                         f"the labels both corpora have)")
    return lines


# ---------------------------------------------------------------------------- all of it
def start(config: dict, workdir: str | Path = ".", schema: Mapping[str, Any] | None = None
          ) -> Plan:
    """Schema (defaults filled in place), the Plan's own checks, then the corpus checks.

    Raises ConfigError whose message has one line per problem.
    """
    problems = schema_problems(config, schema)
    if problems:
        raise ConfigError("\n".join(problems))
    plan = Plan(config, workdir)
    problems = corpus_problems(plan)
    if problems:
        raise ConfigError("\n".join(problems))
    return plan


def report(exc: ConfigError) -> str:
    """The text printed for a configuration error: one line per problem."""
    lines = str(exc).splitlines()
    head = "Configuration error" + ("s" if len(lines) > 1 else "")
    if len(lines) == 1:
        return f"{head}: {lines[0]}"
    return head + ":\n" + "\n".join(f"  {line}" for line in lines)


def check_file(path: str | Path, workdir: str | Path = ".") -> list[str]:
    """`ser check-config`: everything the workflow checks at start, for one config file.

    Returns a summary (one line per dataset); raises ConfigError (YAML syntax errors name the
    file, line and column, which Snakemake's own loader does not).
    """
    config = load_yaml(path)
    plan = start(config, workdir)
    lines = []
    for name in plan.datasets:
        speakers, labels, _ = _corpus_view(plan, name)
        if plan.is_demo(name):
            who = f"generated by the run, {len(speakers or [])} speakers"
        elif speakers is None:
            who = "speakers known once its sources are generated"
        else:
            who = f"{len(speakers)} clips, {len(set(speakers))} speakers"
        lines.append(f"{name} ({plan.fmt(name)}): {who}, labels {_names(labels) or '?'}; "
                     f"models {', '.join(plan.models_for(name)) or 'none'}")
    return lines
