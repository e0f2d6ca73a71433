"""The model: training, metrics, the model card and the plots of its hold-out scores."""
