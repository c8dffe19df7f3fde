"""Quickstart: fit a GRU on Memory-Pro, score it, and read its KPFlow collapse dimension."""
import matplotlib.pyplot as plt
import torch

from kpflow_sk import RecurrentRegressor
from kpflow_sk.datasets import make_task, score_task

torch.set_num_threads(1)  # a small network: one thread is fastest (and kind to shared CPUs)
train, test = (make_task("memory_pro", n, random_state=s) for n, s in [(512, 0), (256, 1)])
est = RecurrentRegressor(cell="gru", hidden_size=32, learning_rate=0.01, batch_size=64,
                         max_iter=60, tol=0.0, kp_n_trials=8, random_state=0).fit(train.X, train.y)
D = est.kp_decompose_  # KPFlow operators K, P, Theta on 8 training trials
print(f"test accuracy {score_task('memory_pro', est.predict(test.X), test):.3f}, final loss "
      f"{est.loss_curve_[-1]:.4f}, collapse dim {est.collapse_dim_:.2f}, time-axis rank "
      f"(mean, pr) of K {D.effective_rank('K', axis='time', reduce='mean'):.2f}, "
      f"of P {D.effective_rank('P', axis='time', reduce='mean'):.2f}")
fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.2))
a.semilogy(est.loss_curve_), a.set(xlabel="epoch", ylabel="training loss")
b.plot(test.y[0, :, 1:], "k--"), b.plot(est.predict(test.X[:1])[0, :, 1:]), b.set(xlabel="step")
fig.tight_layout(), fig.savefig("examples/figures/quickstart.png", dpi=120)
