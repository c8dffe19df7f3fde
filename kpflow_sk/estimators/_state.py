"""The state of a recurrent estimator: what pickling, ``copy.deepcopy`` and the model files
(:mod:`~kpflow_sk.estimators._persistence`) store and restore.

``__getstate__`` keeps the parameters and fitted attributes, and replaces the network and the
optimizer by their state dicts on the CPU; ``__setstate__`` rebuilds the network from the
fitted module spec on the device it was fitted on, or on the CPU with a warning when that
device is missing (:func:`~kpflow_sk.estimators._device.restored_device`).
"""

from __future__ import annotations

import inspect

import torch

from kpflow_sk.estimators import _persistence
from kpflow_sk.estimators._device import restored_device, state_to_cpu

__all__ = ["StateMixin"]


class StateMixin:
    """Pickling and saving (mixed into ``BaseRecurrentEstimator``)."""

    def __getstate__(self):
        state = dict(super().__getstate__())
        module = state.pop("module_", None)
        if module is not None:
            state["_module_state"] = state_to_cpu(module.state_dict())
        opt = state.pop("_optimizer", None)
        state["_optimizer_state"] = None if opt is None else state_to_cpu(opt.state_dict())
        state.pop("_kp_cache", None)  # recomputable, may hold device tensors
        state.pop("_best_state", None)
        return state

    def __setstate__(self, state):
        state = dict(state)
        # a state written before a constructor parameter existed (zoo files, old pickles)
        # gets that parameter's default, so every later step can rely on it
        for name, param in inspect.signature(type(self).__init__).parameters.items():
            if param.default is not inspect.Parameter.empty and name not in state:
                state[name] = param.default
        module_state = state.pop("_module_state", None)
        opt_state = state.pop("_optimizer_state", None)
        super().__setstate__(state)
        self._kp_cache = {}
        if module_state is None:
            return
        self.device_ = restored_device(self.device_, type(self).__name__)
        module = self.initialize_module(self._fitted_spec, torch.Generator().manual_seed(0),
                                        None)
        module.load_state_dict(module_state)
        self.module_ = module.to(self.device_)
        self.module_.eval()
        self._optimizer = None
        if opt_state is not None:
            self._optimizer = self.initialize_optimizer()
            self._optimizer.load_state_dict(opt_state)

    def save(self, path):
        """Write the fitted estimator to ``path`` (safetensors + JSON, never pickle); read it
        back with :func:`kpflow_sk.load`. Returns the path."""
        return _persistence.save(self, path)
