//! What a writer asks before each write: a copy of a `kube::watch`
//! automation writes only while it leads ([`super::lease::LeaseFence`]);
//! every other run is [`Unfenced`]. Apart from both the writer
//! ([`super::apply`]) and the Lease, so that neither imports the other.

/// What a writer asks before each step it sends. A copy of a `kube::watch`
/// automation may write only while it holds its Lease
/// ([`crate::kube::lease::LeaseFence`]): checked right before each write, not
/// once per plan, since leadership can end in the middle of one.
pub(crate) trait Fence {
    /// `Err(why)` once no more writes may be sent: the plan stops there.
    fn check(&self) -> std::result::Result<(), String>;

    /// Told when a step [`Fence::check`] let through has ended: a write
    /// that ends after the fence fell may have landed after it fell.
    fn written(&self) {}
}

/// No fence: a run that holds no Lease writes its whole plan.
pub(crate) struct Unfenced;

impl Fence for Unfenced {
    fn check(&self) -> std::result::Result<(), String> {
        Ok(())
    }
}
