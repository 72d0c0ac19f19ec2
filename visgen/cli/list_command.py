"""``visgen list``: what the installed plugins provide, and which plugins failed."""
from __future__ import annotations

import json

from ..composition import default_registry


def describe(reg) -> dict:
    """Everything ``visgen list`` shows, as plain data."""
    models = [{"id": m.id, "family": m.family, "title": m.title, "plugin": reg.model_plugin[m.id],
               "summary": m.summary, "data_kinds": list(m.data_kinds),
               "default_dataset": m.default_dataset,
               "params": [{"name": p.name, "type": p.type, "default": p.default, "live": p.live,
                           "kind_defaults": p.kind_defaults or {}, "choices": list(p.choices or ()),
                           "min": p.min, "max": p.max, "log": p.log,
                           "range": p.describe_range(), "help": p.help} for p in m.params],
               "views": [{"id": v.id, "kind": v.kind, "title": v.title, "datasets": list(v.datasets),
                          "scalars": list(v.scalars), "clickable": v.clickable} for v in m.views]}
              for m in sorted(reg.models.values(), key=lambda m: (m.family, m.id))]
    datasets = []
    for d in sorted(reg.datasets.values(), key=lambda d: (d.kind, d.name)):
        try:
            ok, why = d.available()
        except Exception as exc:  # a plugin's check must not break the listing
            ok, why = False, f"availability check failed: {exc}"
        datasets.append({"name": d.name, "title": d.title, "kind": d.kind, "available": bool(ok),
                         "why": why, "takes_path": d.takes_path, "default_path": d.default_path})
    views = [{"name": v.name, "help": v.help} for v in reg.view_kinds.values()]
    plugins = [{"name": p.name, "source": p.source, "ok": p.ok, "error": p.error, "models": p.models,
                "datasets": p.datasets, "view_kinds": p.views} for p in reg.plugins]
    failed = [{"name": p.name, "source": p.source, "error": p.error} for p in reg.failed]
    return {"models": models, "datasets": datasets, "views": views, "plugins": plugins, "failed": failed}


def run(args) -> int:
    info = describe(default_registry())
    if args.json:
        print(json.dumps(info, indent=2, default=str))
        return 0
    print("Models:")
    wid = max([len(m["id"]) for m in info["models"]] + [12])  # a long id widens the column, never breaks it
    fam = max([len(m["family"]) for m in info["models"]] + [14])
    for m in info["models"]:
        print(f"  {m['id']:<{wid}} {m['family']:<{fam}} {m['title']}  [{m['plugin']}]")
    print("Datasets:")
    wid = max([len(d["name"]) for d in info["datasets"]] + [14])
    for d in info["datasets"]:
        state = "available" if d["available"] else f"unavailable: {d['why']}"
        print(f"  {d['name']:<{wid}} {d['kind']:<7} {d['title']}  ({state})")
    print("Views: " + ", ".join(v["name"] for v in info["views"]))
    print("Plugins:")
    for p in (p for p in info["plugins"] if p["ok"]):
        what = "; ".join(f"{k}: {', '.join(p[key])}" for k, key in
                         (("models", "models"), ("datasets", "datasets"), ("view kinds", "view_kinds")) if p[key])
        print(f"  {p['name']} ({p['source']}): "
              + (what or "PROVIDES NOTHING - its hooks returned no models, datasets or view kinds"))
    if info["failed"]:
        print("Failed plugins:")
        for p in info["failed"]:
            print(f"  {p['name']}: {p['error']}")
    return 0
