s/\bedge_impl_get(\([A-Za-z_>.-]*\)->g\.edge_kind)/edge_for(\1)/g
