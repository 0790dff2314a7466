"""Where MNIST comes from: files, the local cache, TFDS and a PyPI mirror.

``mnist_vae.data.load_mnist`` tries these in order; each module here knows one
source and raises ``DataError`` with a one-line reason when it cannot deliver.
"""
