package cuda

// SetAttentionKernel makes d's plans use only the fused attention kernels whose name
// starts with prefix (as Plan.Kernels reports them), so a test reaches a kernel that
// timing would not pick.
func SetAttentionKernel(d *Device, prefix string) { d.attnOnly = prefix }
