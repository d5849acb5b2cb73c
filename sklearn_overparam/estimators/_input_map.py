"""The [AZLL] input map as a small public transformer (fitted on the training data)."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from ..nn import fit_half_padding_scale, pad_half
from ..nn._inputs import HalfPadding, UnitNormalize


class HalfSpherePadding(TransformerMixin, BaseEstimator):
    """Map inputs to the unit sphere with last coordinate 1/2 ([AZLL] Sec. 3, footnote 4).

    ``fit`` finds the scale ``s`` that maps the largest training row norm to
    ``sqrt(3)/2``; ``transform`` maps ``x -> (s x, sqrt(3/4 - ||s x||^2), 1/2)``, so every
    output row has norm 1 and last coordinate 1/2. Rows beyond the training radius are
    shrunk radially onto it, so the map is defined for any finite input.

    Attributes
    ----------
    scale_ : float
        The fitted scale ``s`` (1 for all-zero training data).
    n_features_in_ : int
        Number of features seen during :term:`fit`.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during :term:`fit`, when ``X`` has string column names.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_overparam import HalfSpherePadding
    >>> Z = HalfSpherePadding().fit_transform(np.array([[3.0, 4.0], [0.0, 1.0]]))
    >>> np.round(np.linalg.norm(Z, axis=1), 12).tolist(), Z[:, -1].tolist()
    ([1.0, 1.0], [0.5, 0.5])
    """

    def fit(self, X, y=None):
        """Fit the scale on ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training inputs.
        y : None
            Ignored.

        Returns
        -------
        self : HalfSpherePadding
            The fitted transformer.
        """
        X = validate_data(self, X, dtype=[np.float64, np.float32])
        self.scale_ = fit_half_padding_scale(X)
        return self

    def transform(self, X):
        """Pad ``X`` onto the unit sphere.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        Z : ndarray of shape (n_samples, n_features + 2)
            Unit rows with last coordinate 1/2 (float64).
        """
        check_is_fitted(self)
        return pad_half(validate_data(self, X, reset=False, dtype=[np.float64, np.float32]),
                        self.scale_)

    def _transform(self, X):
        """:meth:`transform` of already validated ``X``."""
        return pad_half(X, self.scale_)

    def get_feature_names_out(self, input_features=None):
        """Output feature names: the inputs, then ``"fill"`` and ``"half"``.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Input feature names (default: those seen in fit, or ``x0, x1, ...``).

        Returns
        -------
        names : ndarray of str
            ``n_features_in_ + 2`` names.
        """
        names = OneToOneFeatureMixin.get_feature_names_out(self, input_features)
        return np.concatenate([names, np.array(["fill", "half"], dtype=object)])

    def to_torch(self) -> HalfPadding:
        """The fitted map as a ``torch.nn.Module``.

        Returns
        -------
        module : torch.nn.Module
            Maps ``(n, d)`` tensors like :meth:`transform`.
        """
        check_is_fitted(self)
        return HalfPadding(self.scale_)


class UnitSphereNormalizer(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Scale every row to unit Euclidean norm (all-zero rows stay zero).

    The input assumption ``||x|| = 1`` of [LL] (A2) and [CCZG] (Assumption 3.1), as the
    fitted ``input_map_`` of their classifiers (``normalize_inputs=True``). Stateless, like
    :class:`sklearn.preprocessing.Normalizer`, plus a torch twin for ``network_``.

    Attributes
    ----------
    n_features_in_ : int
        Number of features seen during :term:`fit`.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during :term:`fit`, when ``X`` has string column names.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_overparam import UnitSphereNormalizer
    >>> UnitSphereNormalizer().fit_transform(np.array([[3.0, 4.0], [0.0, 0.0]])).tolist()
    [[0.6, 0.8], [0.0, 0.0]]
    """

    def fit(self, X, y=None):
        """Record the number of features of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training inputs.
        y : None
            Ignored.

        Returns
        -------
        self : UnitSphereNormalizer
            The fitted transformer.
        """
        validate_data(self, X, dtype=[np.float64, np.float32])
        return self

    def transform(self, X):
        """Scale the rows of ``X`` to unit norm.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        Z : ndarray of shape (n_samples, n_features)
            Unit rows (float64).
        """
        check_is_fitted(self)
        return self._transform(validate_data(self, X, reset=False,
                                             dtype=[np.float64, np.float32]))

    def _transform(self, X):
        X = np.asarray(X, dtype=np.float64)
        norms = np.linalg.norm(X, axis=1, keepdims=True)
        return X / np.where(norms > 0, norms, 1.0)

    def __sklearn_is_fitted__(self):
        return hasattr(self, "n_features_in_")

    def to_torch(self) -> UnitNormalize:
        """The map as a ``torch.nn.Module``.

        Returns
        -------
        module : torch.nn.Module
            Maps ``(n, d)`` tensors like :meth:`transform`.
        """
        check_is_fitted(self)
        return UnitNormalize()
