"""Training-free routes: how a modality steers the frozen Bark when no trained adapter takes it.

Adapter plugins register ``Route``s (``register_routes``); the core only runs them. For each request, every given
modality that the ``adapters=`` set does not cover (all of them when ``adapters`` is None) goes through the
routes registered for it, in ``Route.order``; each rewrites a copy of the request (text cues, voice prompt) and
its ``RouteOutcome`` is recorded (``result.routes``, the manifest). A modality with neither adapter weights nor a
route is the ``MissingPluginError`` it always was. Modalities the adapter set covers go through the adapters
only, so routes and adapters combine in one request.

Priorities keep their meaning: 0 skips the modality (route and adapter alike); a route receives its modality's
priority and may scale its strength by it (each route's docstring says how). When two routes both set a voice
prompt, the higher priority wins (ties: the later route); a voice prompt the caller passed is kept unless the
route's priority is above 1.
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass, field
from typing import Any, Sequence

from .modality import ModalityBundle
from .specs import GenerationRequest, Route, RouteCall


class RouteWarning(UserWarning):
    """A route could not express part of its input (an event with no cue, no semantic tokenizer...)."""


@dataclass
class Routed:
    """``route_requests``'s answer: per request, the request to generate from (text and voice prompt as the
    routes left them, only adapter-handled modalities left in it) and the records of the routes that ran."""

    requests: list[GenerationRequest]
    records: list[list[dict[str, Any]]] = field(default_factory=list)

    @property
    def bundles(self) -> list[ModalityBundle]:
        return [r.modalities or ModalityBundle() for r in self.requests]

    def prompts(self, originals: Sequence[Any], load: Any) -> list[Any]:
        """The voice prompts to use: ``originals`` where no route changed the request's prompt, else ``load``ed."""
        out = []
        for original, before, after in zip(originals, self._before, self.requests):
            changed = after.history_prompt is not before.history_prompt
            out.append(load(after.history_prompt) if changed and after.history_prompt is not None else original)
        return out

    _before: list[GenerationRequest] = field(default_factory=list, repr=False)


def adapter_modalities(host: Any, models: Any, adapters: Any) -> set[str]:
    """The modalities an ``adapters=`` value (None, a directory or a ``FusionModel``) covers."""
    if adapters is None:
        return set()
    from .fusion import FusionModel, loaded_fusion

    model = adapters if isinstance(adapters, FusionModel) else loaded_fusion(host, models, adapters)
    return set(model.config.modalities)


def routes_for(host: Any, modality: str) -> list[Route]:
    return sorted((r for r in host.routes.values() if r.modality == modality), key=lambda r: (r.order, r.name))


def route_requests(host: Any, models: Any, requests: Sequence[GenerationRequest], adapters: Any) -> Routed:
    """Run the training-free routes of every request (see the module docstring)."""
    covered = adapter_modalities(host, models, adapters)
    routed = Routed(requests=[], _before=list(requests))
    for request in requests:
        new, records = _route_one(host, models, request, covered)
        routed.requests.append(new)
        routed.records.append(records)
    return routed


def _route_one(host: Any, models: Any, request: GenerationRequest, covered: set[str]) -> tuple[GenerationRequest, list[dict]]:
    bundle = request.modalities or ModalityBundle()
    todo = [(route, name) for name in bundle.present() if name not in covered for route in routes_for(host, name)]
    if not todo:
        return request, []
    todo.sort(key=lambda pair: (pair[0].order, pair[0].name))
    text, prompt = request.text, request.history_prompt
    prompt_priority, from_caller = (1.0, True) if prompt is not None else (0.0, False)
    records, done = [], set()
    for route, name in todo:
        priority = bundle.priority(name)
        call = RouteCall(value=bundle.inputs[name], text=text, history_prompt=prompt, priority=priority,
                         models=models, host=host)
        outcome = host.call_plugin(route, route.apply, call)
        done.add(name)
        if outcome is None:
            continue
        record = {"modality": name, "route": route.name, "did": outcome.did, "priority": priority,
                  "details": dict(outcome.details), "notes": list(outcome.notes)}
        if outcome.text is not None:
            text = outcome.text
        if outcome.history_prompt is not None:
            if priority > prompt_priority or (priority == prompt_priority and not from_caller):
                prompt, prompt_priority, from_caller = outcome.history_prompt, priority, False
            else:
                owner = "the caller's history_prompt" if from_caller else "another route's voice prompt"
                record["notes"].append(f"voice prompt not used: {owner} wins (raise this priority above {prompt_priority:g})")
        for note in record["notes"]:
            warnings.warn(f"bark-omni: {name} route {route.name!r}: {note}", RouteWarning, stacklevel=4)
        records.append(record)
    left = bundle.replace(**{name: None for name in done})
    return dataclasses.replace(request, text=text, history_prompt=prompt, modalities=left), records
