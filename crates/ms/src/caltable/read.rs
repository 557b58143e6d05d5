//! Reading a CASA caltable (ours or CASA's) into a [`super::CalTable`]. (to be written)
