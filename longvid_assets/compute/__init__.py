"""Where GPU work runs: in this process (`local`) or on long-lived Ray actors (`ray`).

The GPU stages (keyframe_images, segment_clips, clip_captions) describe their work as a
`GpuTask` — a backend, plain inputs and artifact references — and hand it to the `compute`
resource. The task reads its inputs from the artifact store and writes its output there, so
it can run on any host that reaches the store.
"""
