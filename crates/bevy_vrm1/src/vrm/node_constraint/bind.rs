pub(super) mod aim;
pub(super) mod roll;
pub(super) mod rotation;
