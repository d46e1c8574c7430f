"""Float training on the host: the recipe behind every deployed (inference-only) network.

Mini-batch gradient descent with momentum, from Xavier-uniform weights and zero
biases drawn with a fixed seed. Loss: binary cross-entropy per output when the
outputs are sigmoids (one-vs-rest classes), else mean squared error. The same
recipe, data and seed give the same weights on the same machine.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qbench.common.processes import stop_point
from qbench.models.network import FloatNetwork, NetworkShape, from_layers, layer_outputs, predictions

# The derivative of each activation, in terms of its output y.
DERIVATIVES = {
    "tanh": lambda y: 1.0 - y * y,
    "sigmoid": lambda y: y * (1.0 - y),
    "relu": lambda y: (y > 0).astype(np.float64),
    "linear": lambda y: np.ones_like(y),
}


@dataclass(frozen=True)
class Recipe:
    epochs: int = 500
    learning_rate: float = 0.1
    momentum: float = 0.9
    batch_size: int = 16
    seed: int = 1


def initial_layers(shape: NetworkShape, generator: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
    """Xavier-uniform weights, U(-a, a) with a = sqrt(6 / (fan_in + fan_out)); zero biases."""
    sizes = shape.layer_sizes
    layers = []
    for before, after in zip(sizes, sizes[1:], strict=False):
        bound = np.sqrt(6.0 / (before + after))
        layers.append((generator.uniform(-bound, bound, size=(after, before)), np.zeros(after)))
    return layers


def train(shape: NetworkShape, inputs: np.ndarray, targets: np.ndarray, recipe: Recipe) -> FloatNetwork:
    """Trains shape on inputs [samples x inputs] towards targets [samples x outputs]."""
    generator = np.random.default_rng(recipe.seed)
    layers = initial_layers(shape, generator)
    velocity = [(np.zeros_like(w), np.zeros_like(b)) for w, b in layers]
    cross_entropy = shape.output_activation == "sigmoid"
    samples = len(inputs)
    for _ in range(recipe.epochs):
        order = generator.permutation(samples)
        for start in range(0, samples, recipe.batch_size):
            stop_point()
            batch = order[start : start + recipe.batch_size]
            activations = layer_outputs(shape, layers, inputs[batch])
            output = activations[-1]
            error = output - targets[batch]
            # Cross-entropy through a sigmoid: the net input's gradient is y - t.
            delta = error if cross_entropy else error * DERIVATIVES[shape.output_activation](output)
            gradients = []
            for index in range(len(layers) - 1, -1, -1):
                source = activations[index]
                gradients.append((delta.T @ source / len(batch), delta.mean(axis=0)))
                if index > 0:
                    delta = (delta @ layers[index][0]) * DERIVATIVES[shape.hidden_activation](source)
            gradients.reverse()
            for index, ((weights, biases), (dw, db)) in enumerate(zip(layers, gradients, strict=True)):
                vw, vb = velocity[index]
                vw = recipe.momentum * vw - recipe.learning_rate * dw
                vb = recipe.momentum * vb - recipe.learning_rate * db
                velocity[index] = (vw, vb)
                layers[index] = (weights + vw, biases + vb)
    return from_layers(shape, layers)


def one_hot(labels: np.ndarray, classes: int) -> np.ndarray:
    return np.eye(classes)[labels]


def accuracy(network: FloatNetwork, inputs: np.ndarray, labels: np.ndarray) -> float:
    """The share of samples whose largest output is their class."""
    return float(np.mean(predictions(network.forward(inputs)) == labels))
