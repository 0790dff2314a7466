"""The Keras model classes behind the zoo's strategies.

Importing this package registers every class with Keras's serialisation, which
loading a saved run needs; the strategy builders import their class lazily.
"""

from mnist_vae.zoo.models.cvae import CVAE
from mnist_vae.zoo.models.task import TaskVAE
from mnist_vae.zoo.models.vaegan import VAEGAN

__all__ = ["CVAE", "VAEGAN", "TaskVAE"]
