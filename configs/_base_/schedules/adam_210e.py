# mmpose's HG-52 MPII recipe: Adam 5e-4, 500-iteration linear warm-up,
# x0.1 at epochs 170 and 200, 210 epochs, validation every 10 epochs.
# mmengine's epoch loop that can also stop and resume mid-epoch (pre-emption:
# hourglass_plugin.engine.PreemptionCheckpointHook).
train_cfg = dict(
    type='ResumableEpochBasedTrainLoop', max_epochs=210, val_interval=10)

optim_wrapper = dict(optimizer=dict(type='Adam', lr=5e-4))

param_scheduler = [
    dict(
        type='LinearLR', begin=0, end=500, start_factor=0.001,
        by_epoch=False),  # warm-up
    dict(
        type='MultiStepLR',
        begin=0,
        end=210,
        milestones=[170, 200],
        gamma=0.1,
        by_epoch=True)
]
