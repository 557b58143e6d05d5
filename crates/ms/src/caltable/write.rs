//! Writing a [`super::CalTable`] as a CASA caltable, atomically. (to be written)
