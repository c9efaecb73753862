"""Validate Knative Service manifests against the Knative Serving v1 models.

Usage: python validate.py FILE...

The models (PyPI cloudcoil-models-knative-serving) check types and required fields but accept
unknown fields. So this script also rejects every key that is not a field of the model it
belongs to, and a misspelt field fails here instead of being ignored by the cluster.
"""

import sys
import types
import typing

import yaml
from cloudcoil.models.knative_serving.serving.v1 import Service
from pydantic import BaseModel, RootModel


def unknown_in_value(annotation, value, path):
    """Return the unknown keys inside `value`, which the type `annotation` describes."""
    origin = typing.get_origin(annotation)
    arguments = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        found = []
        for argument in arguments:
            if argument is not type(None):
                found = unknown_in_value(argument, value, path)
                if not found:
                    return []
        return found
    if origin is list and isinstance(value, list):
        return [
            field
            for index, item in enumerate(value)
            for field in unknown_in_value(arguments[0], item, f"{path}[{index}]")
        ]
    if origin is dict and isinstance(value, dict):
        return [
            field
            for key, item in value.items()
            for field in unknown_in_value(arguments[1], item, f"{path}.{key}")
        ]
    is_model = isinstance(annotation, type) and issubclass(annotation, BaseModel)
    if is_model and not issubclass(annotation, RootModel) and isinstance(value, dict):
        return unknown_fields(annotation, value, path)
    return []


def unknown_fields(model, data, path):
    """Return the dotted paths of keys in `data` that `model` does not define."""
    fields = {field.alias or name: field for name, field in model.model_fields.items()}
    found = []
    for key, value in data.items():
        field = fields.get(key)
        if field is None:
            found.append(f"{path}.{key}")
        else:
            found.extend(unknown_in_value(field.annotation, value, f"{path}.{key}"))
    return found


def main(paths):
    failed = False
    for path in paths:
        with open(path, encoding="utf-8") as stream:
            for number, document in enumerate(yaml.safe_load_all(stream)):
                name = f"{path}#{number}"
                try:
                    Service.model_validate(document)
                except Exception as error:  # pydantic's ValidationError lists every problem
                    print(f"{name}: {error}")
                    failed = True
                    continue
                for field in unknown_fields(Service, document, "Service"):
                    print(f"{name}: unknown field {field}")
                    failed = True
    if failed:
        return 1
    print(f"valid: {', '.join(paths)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
