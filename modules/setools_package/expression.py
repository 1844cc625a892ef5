"""The expression language of ``.setools`` files: tokenizer, parser, evaluator.

Grammar (a small recursive-descent parser; no ``eval``)::

    comparison := sum COMPARE sum          COMPARE: < > <= >= == !=
    sum        := product (('+' | '-') product)*
    product    := unary (('*' | '/') unary)*
    unary      := ('-' | '+') unary | atom
    atom       := NUMBER
                | NAME '(' [sum (',' sum)*] ')'     function call
                | NAME ['[' INTEGER ']'] ['{' NAME '}']  column [element] {mask}
                | '(' sum ')'

A column name evaluates to the catalogue column (restricted to the rows of the
enclosing ``MASK`` section's pre-filter), ``COL{mask}`` to the column's rows
selected by an earlier mask, ``COL[i]`` to element ``i`` of a vector column
(e.g. ``FLUX_APER[1]``). Functions: see :data:`FUNCTIONS`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from shapepipe.modules.setools_package import statistics

COMPARATORS = ('<=', '>=', '==', '!=', '<', '>')

_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<maskref>\{[^{}]*\})
  | (?P<op><=|>=|==|!=|<|>|[-+*/()\[\],])
""", re.VERBOSE)


class ExpressionError(ValueError):
    """A syntax or evaluation error in one expression (message without location)."""


@dataclass(frozen=True)
class Number:
    value: float


@dataclass(frozen=True)
class Column:
    name: str
    mask: str = None
    index: int = None


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple


@dataclass(frozen=True)
class BinOp:
    op: str
    left: object
    right: object


@dataclass(frozen=True)
class Negate:
    operand: object


@dataclass(frozen=True)
class Comparison:
    op: str
    left: object
    right: object


#: Function name -> (implementation, min args, max args or None, description).
FUNCTIONS = {
    'mean': (statistics.mean, 1, 1, 'mean of the finite values'),
    'median': (statistics.median, 1, 1, 'median of the finite values'),
    'mode': (statistics.mode, 1, 1, 'most frequent value (iterated histogram)'),
    'sqrt': (statistics.elementwise(np.sqrt), 1, 1, 'square root'),
    'pow': (statistics.power, 2, 2, 'pow(x, y) = x to the power y'),
    'log': (statistics.elementwise(np.log), 1, 1, 'natural logarithm'),
    'log10': (statistics.elementwise(np.log10), 1, 1, 'decimal logarithm'),
    'exp': (statistics.elementwise(np.exp), 1, 1, 'exponential'),
    'std': (statistics.std, 1, 1, 'standard deviation of the finite values'),
    'var': (statistics.var, 1, 1, 'variance of the finite values'),
    'sigma_mad': (statistics.sigma_mad, 1, 1, '1.4826 x median absolute deviation'),
    'len': (statistics.length, 1, 1, 'number of values'),
    'min': (statistics.minimum, 1, None, 'minimum (of one array, or element-wise)'),
    'max': (statistics.maximum, 1, None, 'maximum (of one array, or element-wise)'),
    'homogen': (statistics.homogen, 2, 3,
                'homogen(x, [y,] n_cells): inhomogeneity in percent of the worst case'),
}


def tokenize(text: str) -> list[tuple[str, str, int]]:
    """Split an expression into ``(kind, text, position)`` tokens."""
    tokens, pos = [], 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise ExpressionError(f'unexpected character {text[pos]!r} at position {pos + 1}')
        kind = match.lastgroup
        if kind != 'space':
            tokens.append((kind, match.group(), pos))
        pos = match.end()
    return tokens


class _Parser:
    def __init__(self, text):
        self.text = text
        self.tokens = tokenize(text)
        self.pos = 0

    def peek(self):
        return self.tokens[self.pos] if self.pos < len(self.tokens) else (None, None, len(self.text))

    def take(self, expected=None):
        kind, value, where = self.peek()
        if kind is None:
            raise ExpressionError(f'unexpected end of expression{self._expect(expected)}')
        if expected is not None and value != expected:
            raise ExpressionError(f'expected {expected!r} at position {where + 1}, '
                                  f'found {value!r}')
        self.pos += 1
        return kind, value, where

    @staticmethod
    def _expect(expected):
        return f' (expected {expected!r})' if expected else ''

    def at_end(self):
        return self.pos >= len(self.tokens)

    def comparison(self):
        left = self.sum()
        kind, value, where = self.peek()
        if value not in COMPARATORS:
            found = 'end of line' if kind is None else repr(value)
            raise ExpressionError(f'expected a comparison ({" ".join(COMPARATORS)}), found '
                                  f'{found}')
        self.take()
        right = self.sum()
        if not self.at_end():
            _, value, where = self.peek()
            if value in COMPARATORS:
                raise ExpressionError('only one comparison per line: write one condition per '
                                      'line (lines are ANDed)')
            raise ExpressionError(f'unexpected {value!r} at position {where + 1}')
        return Comparison(value, left, right)

    def sum(self):
        node = self.product()
        while self.peek()[1] in ('+', '-'):
            op = self.take()[1]
            node = BinOp(op, node, self.product())
        return node

    def product(self):
        node = self.unary()
        while self.peek()[1] in ('*', '/'):
            op = self.take()[1]
            node = BinOp(op, node, self.unary())
        return node

    def unary(self):
        if self.peek()[1] == '-':
            self.take()
            return Negate(self.unary())
        if self.peek()[1] == '+':
            self.take()
            return self.unary()
        return self.atom()

    def atom(self):
        kind, value, where = self.take()
        if kind == 'number':
            return Number(float(value))
        if value == '(':
            node = self.sum()
            self.take(')')
            return node
        if kind == 'name':
            if self.peek()[1] == '(':
                return self.call(value, where)
            index = mask = None
            if self.peek()[1] == '[':
                self.take()
                k, text, w = self.take()
                if k != 'number' or not text.isdigit():
                    raise ExpressionError(f'{value}[...] needs an integer index at position '
                                          f'{w + 1}')
                index = int(text)
                self.take(']')
            if self.peek()[0] == 'maskref':
                _, text, w = self.take()
                mask = text[1:-1].strip()
                if not re.fullmatch(r'[A-Za-z0-9_.\-]+', mask):
                    raise ExpressionError(f'expected a mask name inside {{}} at position {w + 1}')
            return Column(value, mask, index)
        raise ExpressionError(f'unexpected {value!r} at position {where + 1}')

    def call(self, name, where):
        if name not in FUNCTIONS:
            raise ExpressionError(f'unknown function {name!r} at position {where + 1} '
                                  f'(known: {", ".join(FUNCTIONS)})')
        self.take('(')
        args = []
        if self.peek()[1] != ')':
            args.append(self.sum())
            while self.peek()[1] == ',':
                self.take()
                args.append(self.sum())
        self.take(')')
        _, low, high, _ = FUNCTIONS[name]
        if len(args) < low or (high is not None and len(args) > high):
            count = f'{low}' if low == high else f'{low} to {high}' if high else f'at least {low}'
            raise ExpressionError(f'{name}() takes {count} argument(s), got {len(args)}')
        return Call(name, tuple(args))


def parse_expression(text: str) -> Number | Column | Call | BinOp | Negate:
    """Parse an arithmetic expression (no comparison) into a tree."""
    parser = _Parser(text)
    if parser.at_end():
        raise ExpressionError('empty expression')
    node = parser.sum()
    if not parser.at_end():
        _, value, where = parser.peek()
        if value in COMPARATORS:
            raise ExpressionError(f'a comparison ({value}) is only allowed in MASK sections')
        raise ExpressionError(f'unexpected {value!r} at position {where + 1}')
    return node


def parse_comparison(text: str) -> Comparison:
    """Parse ``expr OP expr`` into a :class:`Comparison`."""
    parser = _Parser(text)
    if parser.at_end():
        raise ExpressionError('empty condition')
    return parser.comparison()


def referenced_masks(node: Number | Column | Call | BinOp | Negate | Comparison) -> set[str]:
    """Names of the masks used as ``COL{mask}`` in a tree."""
    if isinstance(node, Column):
        return {node.mask} if node.mask else set()
    if isinstance(node, (BinOp, Comparison)):
        return referenced_masks(node.left) | referenced_masks(node.right)
    if isinstance(node, Negate):
        return referenced_masks(node.operand)
    if isinstance(node, Call):
        return set().union(*(referenced_masks(arg) for arg in node.args))
    return set()


class Context:
    """What an expression is evaluated against.

    Parameters
    ----------
    data : numpy structured array or astropy FITS_rec
        The catalogue.
    masks : dict
        Mask name -> boolean array over the catalogue rows.
    subset : numpy.ndarray of bool, optional
        Rows that bare column names refer to (a MASK section's pre-filter).
    warnings : list, optional
        Receives warning strings (empty inputs, non-finite values).
    """

    def __init__(self, data, masks, subset=None, warnings=None):
        self.data = data
        self.masks = masks
        self.subset = subset
        self.warnings = warnings if warnings is not None else []
        self._names = {name.upper(): name for name in data.dtype.names}

    def column(self, node: Column) -> np.ndarray:
        name = self._names.get(node.name.upper())
        if name is None:
            import difflib
            close = difflib.get_close_matches(node.name.upper(), list(self._names), n=1)
            hint = f' (did you mean {self._names[close[0]]}?)' if close else ''
            raise ExpressionError(f'no column {node.name} in the catalogue{hint}')
        values = np.asarray(self.data[name])
        if values.dtype.kind not in 'biuf':
            raise ExpressionError(f'column {name} is not numeric ({values.dtype})')
        if node.index is not None:
            if values.ndim < 2 or node.index >= values.shape[1]:
                raise ExpressionError(f'{name}[{node.index}]: column has shape '
                                      f'{values.shape[1:]}, no element {node.index}')
            values = values[:, node.index]
        if node.mask is not None:
            if node.mask not in self.masks:
                raise ExpressionError(f'mask {node.mask!r} is not defined (yet)')
            values = values[self.masks[node.mask]]
        elif self.subset is not None:
            values = values[self.subset]
        return values.astype(float)


def evaluate(node: Number | Column | Call | BinOp | Negate | Comparison,
             context: Context) -> float | bool | np.ndarray:
    """Evaluate a parsed expression or comparison.

    Returns
    -------
    float or numpy.ndarray
        For a comparison, a boolean array (or a bool).

    Raises
    ------
    ExpressionError
        Unknown column or mask, arrays of different lengths.
    """
    if isinstance(node, Number):
        return node.value
    if isinstance(node, Column):
        return context.column(node)
    if isinstance(node, Negate):
        return -evaluate(node.operand, context)
    if isinstance(node, (BinOp, Comparison)):
        left = evaluate(node.left, context)
        right = evaluate(node.right, context)
        if np.ndim(left) and np.ndim(right) and np.shape(left) != np.shape(right):
            raise ExpressionError(f'arrays of different lengths ({np.size(left)} and '
                                  f'{np.size(right)}) combined with {node.op}; select the same '
                                  f'rows on both sides')
        with np.errstate(divide='ignore', invalid='ignore', over='ignore'):
            return _OPERATORS[node.op](left, right)
    if isinstance(node, Call):
        function = FUNCTIONS[node.name][0]
        args = [evaluate(arg, context) for arg in node.args]
        with np.errstate(divide='ignore', invalid='ignore', over='ignore'):
            try:
                return function(*args, warn=lambda text: context.warnings.append(
                    f'{node.name}(): {text}'))
            except ExpressionError:
                raise
            except (ValueError, TypeError) as error:
                raise ExpressionError(str(error)) from None
    raise AssertionError(f'unknown node {node!r}')


_OPERATORS = {
    '+': np.add, '-': np.subtract, '*': np.multiply, '/': np.true_divide,
    '<': np.less, '>': np.greater, '<=': np.less_equal, '>=': np.greater_equal,
    '==': np.equal, '!=': np.not_equal,
}
