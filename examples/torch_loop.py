"""What the torch examples share: an MLP, one training loop (one optimizer step per batch of
the cembed Dataset) and the test AUC (sklearn's roc_auc_score on the model's probabilities)."""
import numpy as np
import torch
from sklearn.metrics import roc_auc_score

import cembed.torch as ct


class Mlp(torch.nn.Sequential):
    def __init__(self, sizes, last_relu=True):
        layers = []
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(torch.nn.Linear(a, b))
            if last_relu or i + 2 < len(sizes):
                layers.append(torch.nn.ReLU())
        super().__init__(*layers)


def train(model, optimizer, dataset, batch, epochs):
    """model(dense, values, offsets) -> logits; prints the training log loss of each epoch.
    Tables with a fused optimizer update themselves inside loss.backward()."""
    for epoch in range(epochs):
        total, n = 0.0, 0
        for labels, dense, values, offsets in ct.batches(dataset, batch, shuffle=True, seed=epoch):
            loss = torch.nn.functional.binary_cross_entropy_with_logits(model(dense, values, offsets), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += float(loss) * len(labels)
            n += len(labels)
        print(f"epoch {epoch + 1}: train log loss {total / n:.4f}")


def test_auc(model, dataset, batch=4096):
    scores, labels_all = [], []
    with torch.no_grad():
        for labels, dense, values, offsets in ct.batches(dataset, batch):
            scores.append(torch.sigmoid(model(dense, values, offsets)).numpy())
            labels_all.append(labels.numpy())
    return roc_auc_score(np.concatenate(labels_all), np.concatenate(scores))
