# Newell et al. 2016, "Training Details": RMSprop, learning rate 2.5e-4,
# dropped once by a factor of 5 when validation accuracy plateaus. The
# original Torch code trains 100 "epochs" of 8000 batches of 6 (~2.2 MPII
# epochs each); we use 200 MPII epochs with the drop at epoch 150 as a
# fixed-schedule equivalent.
# mmengine's epoch loop that can also stop and resume mid-epoch (pre-emption:
# hourglass_plugin.engine.PreemptionCheckpointHook).
train_cfg = dict(
    type='ResumableEpochBasedTrainLoop', max_epochs=200, val_interval=10)

# torch's RMSprop defaults (alpha=0.99, eps=1e-8) match Torch7's optim.rmsprop
optim_wrapper = dict(optimizer=dict(type='RMSprop', lr=2.5e-4))

param_scheduler = [
    dict(
        type='MultiStepLR',
        begin=0,
        end=200,
        milestones=[150],
        gamma=0.2,
        by_epoch=True)
]
