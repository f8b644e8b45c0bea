"""Lays out generated calls in 80 columns, as pyink would.

A call that does not fit on its line gets one argument per line, indented
four more than the line it starts on, with a trailing comma and the closing
parenthesis on its own line; nested calls (a schedule inside an optimizer)
are laid out the same way, one level deeper.
"""

import libcst as cst

WIDTH = 80
_LAMBDA = len('lambda: ')


def _newline(indent: int) -> cst.ParenthesizedWhitespace:
  # indent=True adds the enclosing block's indentation; `indent` is relative.
  return cst.ParenthesizedWhitespace(
      first_line=cst.TrailingWhitespace(),
      empty_lines=[],
      indent=True,
      last_line=cst.SimpleWhitespace(' ' * indent),
  )


def _width(node: cst.CSTNode) -> int:
  return len(cst.Module([]).code_for_node(node))


def fit(
    node: cst.BaseExpression, line: int, start: int, block: int
) -> cst.BaseExpression:
  """Breaks `node` over lines where it does not fit.

  Args:
    node: A generated expression (a call, or a lambda returning one).
    line: The column its line starts at (absolute).
    start: The column `node` starts at (absolute).
    block: The column of the enclosing block's statements.

  Returns:
    `node`, or `node` laid out one argument per line.
  """
  if start + _width(node) + 1 <= WIDTH:  # +1: a comma may follow
    return node
  if isinstance(node, cst.Lambda):
    return node.with_changes(body=fit(node.body, line, start + _LAMBDA, block))
  if not isinstance(node, cst.Call) or not node.args:
    return node
  return spread(node, line, block)


def is_multiline(call: cst.Call) -> bool:
  """Whether the call already puts its arguments on their own lines."""
  return isinstance(call.whitespace_before_args, cst.ParenthesizedWhitespace)


def spread(call: cst.Call, line: int, block: int) -> cst.Call:
  """`call` with one argument per line (its values fitted), as pyink does."""
  inner = line + 4
  args = []
  for i, arg in enumerate(call.args):
    offset = len(arg.keyword.value) + 1 if arg.keyword else 0
    last = i == len(call.args) - 1
    args.append(
        arg.with_changes(
            value=fit(arg.value, inner, inner + offset, block),
            comma=cst.Comma(
                whitespace_after=_newline((line if last else inner) - block)
            ),
        )
    )
  return call.with_changes(
      whitespace_before_args=_newline(inner - block), args=args
  )


def _flat(call: cst.Call) -> cst.Call:
  args = [
      arg.with_changes(
          comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(' ')),
          whitespace_after_arg=cst.SimpleWhitespace(''),
      )
      for arg in call.args
  ]
  if args:
    args[-1] = args[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
  return call.with_changes(
      whitespace_before_args=cst.SimpleWhitespace(''), args=args
  )


def reflow(call: cst.Call, start: int, block: int) -> cst.Call:
  """Lays a call out as pyink does: on its line, hanging, or one per line.

  Args:
    call: The call (its arguments' own layout is replaced).
    start: The column the call starts at.
    block: The column of its statement (its line's indentation).
  """
  flat = _flat(call)
  text = cst.Module([]).code_for_node(flat)
  if '\n' not in text and start + len(text) + 1 <= WIDTH:
    return flat
  arguments = text[text.index('(') + 1 : -1]
  if '\n' not in arguments and block + 4 + len(arguments) <= WIDTH:
    args = list(flat.args)
    args[-1] = args[-1].with_changes(whitespace_after_arg=_newline(0))
    return flat.with_changes(whitespace_before_args=_newline(4), args=args)
  return spread(flat, block, block)
