"""``sim://`` addresses: a simulated board named by a URL, and the module it builds.

::

    sim://module?seed=7&tbm=tbm08c&defects=path.toml
    sim://roc?seed=3&roc=proc600

Keys (all optional):

=========  ===========================================  ==========================
key        meaning                                      default
=========  ===========================================  ==========================
seed       all randomness of the module (int >= 0)      0
roc        ROC type (``hal.chips`` name or alias)       psi46digv21respin
tbm        TBM type (module only)                       tbm08c
hub        hub id 0..31 (module only)                   31
hdi        ``bpix`` or ``fpix`` (TBM default timing)    bpix
defects    preset ``none`` / ``typical``, or a TOML     typical
           file (see ``simulators.physics.defect_spec``)
=========  ===========================================  ==========================

The same URL always builds the same module. A bad URL raises :class:`SimAddressError` naming
the part that is wrong. :func:`sim_url_for` fills the keys an address leaves out from a module
configuration, so that ``--target sim://module --config real-module.toml`` simulates that module
(its ROC and TBM types, hub id and HDI).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

from hal.chips import MODULE_NUMROCS, roc_type, tbm_type
from hal.errors import UnknownRegisterError
from simulators.physics.defect_spec import DefectSpec, DefectSpecError, load_defect_spec
from simulators.physics.module import SimModule

KINDS = ("module", "roc")
HDIS = ("bpix", "fpix")
DEFAULTS = {"seed": "0", "roc": "psi46digv21respin", "tbm": "tbm08c", "hub": "31",
            "hdi": "bpix", "defects": "typical"}
MODULE_ONLY = ("tbm", "hub", "hdi")


class SimAddressError(ValueError):
    """A ``sim://`` URL that cannot be used; the message names the bad part."""


@dataclass(frozen=True)
class SimSpec:
    """A parsed ``sim://`` address.

    kind : ``"module"`` or ``"roc"``; seed : int; roc_type / tbm_type : canonical type names
    (tbm_type None for a bare ROC); n_rocs : 16 or 1; hub_id : 0..31; hdi : bpix | fpix;
    defects : the :class:`DefectSpec`; url : the canonical URL (keys sorted, defaults filled).
    """

    kind: str
    seed: int
    roc_type: str
    tbm_type: str | None
    n_rocs: int
    hub_id: int
    hdi: str
    defects: DefectSpec
    url: str


def _int(key: str, value: str, lo: int, hi: int | None, url: str) -> int:
    try:
        out = int(value, 10)
    except ValueError:
        raise SimAddressError(f"{url}: {key}={value!r} is not an integer") from None
    if out < lo or (hi is not None and out > hi):
        top = "" if hi is None else f"..{hi}"
        raise SimAddressError(f"{url}: {key}={value} is out of range {lo}{top}")
    return out


def parse_sim_url(url: str) -> SimSpec:
    """Parse a ``sim://`` URL; unknown keys or bad values raise :class:`SimAddressError`."""
    parts = urlsplit(url.strip())
    if parts.scheme != "sim":
        raise SimAddressError(f"{url}: not a simulator address (expected sim://module or "
                              "sim://roc)")
    kind = (parts.netloc or parts.path.strip("/")).lower()
    if kind not in KINDS:
        raise SimAddressError(f"{url}: unknown simulated board {kind!r} (known: "
                              f"{', '.join(KINDS)})")
    query: dict[str, str] = {}
    for key, value in parse_qsl(parts.query, keep_blank_values=True, strict_parsing=False):
        key = key.lower()
        if key not in DEFAULTS:
            raise SimAddressError(f"{url}: unknown key {key!r} (known: {', '.join(DEFAULTS)})")
        if key in query:
            raise SimAddressError(f"{url}: key {key!r} is given twice")
        if kind == "roc" and key in MODULE_ONLY:
            raise SimAddressError(f"{url}: key {key!r} only applies to sim://module")
        query[key] = value
    q = DEFAULTS | query
    seed = _int("seed", q["seed"], 0, None, url)
    try:
        rtype = roc_type(q["roc"]).name
        ttype = tbm_type(q["tbm"]).name if kind == "module" else None
    except UnknownRegisterError as exc:
        raise SimAddressError(f"{url}: {exc}") from None
    hub = _int("hub", q["hub"], 0, 31, url)
    hdi = q["hdi"].lower()
    if hdi not in HDIS:
        raise SimAddressError(f"{url}: hdi={q['hdi']!r} (known: {', '.join(HDIS)})")
    try:
        defects = load_defect_spec(q["defects"])
    except DefectSpecError as exc:
        raise SimAddressError(f"{url}: defects: {exc}") from None
    keys = ("seed", "roc", "defects") + (MODULE_ONLY if kind == "module" else ())
    canon = "&".join(f"{k}={q[k]}" for k in sorted(keys))
    return SimSpec(kind, seed, rtype, ttype, MODULE_NUMROCS if ttype else 1, hub, hdi, defects,
                   f"sim://{kind}?{canon}")


def build_module(url_or_spec: str | SimSpec) -> SimModule:
    """The :class:`SimModule` named by a URL (or parsed spec); same URL -> identical module."""
    spec = parse_sim_url(url_or_spec) if isinstance(url_or_spec, str) else url_or_spec
    try:
        return SimModule(spec.seed, spec.roc_type, spec.tbm_type, spec.hub_id, spec.hdi,
                         spec.defects)
    except DefectSpecError as exc:
        raise SimAddressError(f"{spec.url}: defects: {exc}") from None


def sim_url_for(url: str, described: Mapping[str, object]) -> str:
    """The ``sim://`` address of the module a configuration describes, where ``url`` is silent.

    Parameters
    ----------
    url : a ``sim://`` address; every key it gives wins over the configuration.
    described : what the configuration says: ``roc_type``, ``tbm_type`` (None for a bare
        ROC), ``n_rocs``, ``hub_id`` and ``hdi``.

    Returns
    -------
    The canonical URL (keys sorted, defaults filled in).

    Raises
    ------
    SimAddressError : the address names a module but the configuration is a bare ROC (or the
        other way round), or the configuration has a number of ROCs the simulator cannot build.
    """
    spec = parse_sim_url(url)
    given = {k.lower() for k, _ in parse_qsl(urlsplit(url.strip()).query,
                                             keep_blank_values=True)}
    tbm = described.get("tbm_type")
    if (spec.kind == "module") != bool(tbm):
        what = f"a {tbm} module" if tbm else f"a bare {described.get('roc_type')} ROC"
        use = "sim://module" if tbm else "sim://roc"
        raise SimAddressError(f"{url}: the configuration describes {what}; use {use}")
    n_rocs = MODULE_NUMROCS if tbm else 1
    if described.get("n_rocs", n_rocs) != n_rocs:
        raise SimAddressError(f"{url}: the configuration has {described['n_rocs']} ROCs; the "
                              f"simulator builds modules of {MODULE_NUMROCS} ROCs or one bare ROC")
    fill = {"roc": described.get("roc_type")}
    if tbm:
        fill |= {"tbm": tbm, "hub": described.get("hub_id"), "hdi": described.get("hdi")}
    query = dict(part.split("=", 1) for part in spec.url.split("?", 1)[1].split("&"))
    for key, value in fill.items():
        if key not in given and value is not None:
            query[key] = str(value)
    return parse_sim_url(f"sim://{spec.kind}?" + "&".join(
        f"{k}={v}" for k, v in sorted(query.items()))).url
