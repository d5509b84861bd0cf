"""OpenAPI for routes that parse their own body (batches): document the typed request model all the same."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

_DOC_MODELS: dict[str, type[BaseModel]] = {}
REF = "#/components/schemas/{model}"


def documented_body(model: type[BaseModel], examples: dict[str, Any]) -> dict[str, Any]:
    """``openapi_extra`` for a route that reads ``request.body()`` itself but accepts ``model``."""
    _DOC_MODELS[model.__name__] = model
    return {"requestBody": {"required": True, "content": {"application/json": {
        "schema": {"$ref": REF.format(model=model.__name__)},
        "examples": {name: {"summary": name.replace("_", " "), "value": value} for name, value in examples.items()},
    }}}}


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for name, model in _DOC_MODELS.items():
            model_schema = model.model_json_schema(ref_template=REF)
            for def_name, definition in model_schema.pop("$defs", {}).items():
                components.setdefault(def_name, definition)
            components[name] = model_schema
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
