//! What the integration tests share: the MS layouts they create.

use casacore_sys::MsLayout;

/// DATA (and WEIGHT_SPECTRUM if asked) of `nchan` channels and 2 correlations, the visibility
/// columns in tiles of `tile_rows_vis` rows and the others in tiles of 4 times as many.
pub fn layout(nchan: usize, weight_spectrum: bool, tile_rows_vis: usize) -> MsLayout {
    MsLayout {
        ncorr: 2,
        nchan,
        data: true,
        weight_spectrum,
        model_data: false,
        corrected_data: false,
        tile_rows_vis,
        tile_rows_flag: 4 * tile_rows_vis,
        tile_rows_uvw: 4 * tile_rows_vis,
        tile_rows_weight: 4 * tile_rows_vis,
    }
}
