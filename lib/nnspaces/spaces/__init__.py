"""Signal spaces of a layer: the SVD of the matrix its weights define.

A layer ``y = σ(W x + b)`` sees an input only through its row space: the part of ``x`` in
the null space of ``W`` changes nothing downstream. This package computes, for ``Linear``
and ``Conv2d`` layers,

- the matrix a layer's weights define, in several *views* (:func:`weight_matrix`, undone
  by :func:`weight_from_matrix`) — module ``matrices``;
- the SVD and the four fundamental subspaces of that matrix (:func:`layer_spaces`,
  :class:`LayerSpaces`), and the library's one rank rule (:func:`rank_cutoff`,
  :func:`default_rtol`) — module ``svd``;
- the two residuals the paper's Figure 1 can mean (:func:`null_residual`, the part of an
  input the layer cannot see, and :func:`row_projection_residual`, what the released code
  computes), both for each class-average image (:func:`class_average_residuals`), and the
  split :func:`row_null_split` — module ``residuals``;
- the singular values of a whole convolution with circular boundary
  (:func:`conv_operator_singular_values`, :func:`conv_operator_matrix`) — module ``operator``;
- a per-layer summary of a whole network (:func:`layer_table`) and the fraction of real
  inputs' energy that falls in each layer's null space, per class
  (:func:`null_energy_by_layer`; its numbers :func:`null_energy_fractions`, its table
  :func:`null_energy_frame`) — module ``table``;
- one convolution seen through every view at once (:func:`conv_layer`, :func:`input_sizes`,
  :func:`layer_views`, :func:`views_table`; Figure 2's chapter) — module ``views``.

Every SVD is taken in float64 on the CPU, whatever the weights' dtype or device. Modules
import downward only: ``matrices`` → ``svd`` → ``residuals``, ``operator`` → ``table``,
``views``.

References
----------
.. [1] R. Pattichis and M. S. Pattichis, "Understanding Neural Network Systems for Image
   Analysis using Vector Spaces and Inverse Maps", IEEE SSIAI 2024, pp. 73-76,
   arXiv:2402.00261.
.. [2] H. Sedghi, V. Gupta and P. M. Long, "The Singular Values of Convolutional Layers",
   ICLR 2019, arXiv:1805.10408.
"""

from .matrices import VIEWS, weight_from_matrix, weight_matrix
from .operator import conv_operator_matrix, conv_operator_singular_values
from .residuals import (
    ClassResiduals,
    class_average_residuals,
    null_residual,
    row_null_split,
    row_projection_residual,
)
from .svd import LayerSpaces, default_rtol, layer_spaces, rank_cutoff
from .table import (
    TABLE_VIEWS,
    layer_table,
    null_energy_by_layer,
    null_energy_fractions,
    null_energy_frame,
)
from .views import conv_layer, input_sizes, layer_views, views_table

__all__ = [
    "TABLE_VIEWS",
    "VIEWS",
    "ClassResiduals",
    "LayerSpaces",
    "class_average_residuals",
    "conv_layer",
    "conv_operator_matrix",
    "conv_operator_singular_values",
    "default_rtol",
    "input_sizes",
    "layer_spaces",
    "layer_table",
    "layer_views",
    "null_energy_by_layer",
    "null_energy_fractions",
    "null_energy_frame",
    "null_residual",
    "rank_cutoff",
    "row_null_split",
    "row_projection_residual",
    "views_table",
    "weight_from_matrix",
    "weight_matrix",
]
