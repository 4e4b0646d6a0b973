"""The one training engine: recipes from conf → tf.data input, preprocessing head, optimiser,
schedule and callbacks → a trained Keras model, its history and a summary."""
