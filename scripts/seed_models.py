"""The seed document's PyTorch models, copied verbatim.

Source: /work/shared/seed/000_fe43a460c6705cf1.txt ("Transformer and Self-Attention Pytorch代码").
Only the line breaks / indentation were restored (the seed text is flattened onto one line).
Do NOT "fix" anything here; the quirks are part of the conformance target:
  * SelfAttention.values/keys/queries Linear layers are defined but never used in forward();
  * masked_fill(mask == 0, -1e20) happens BEFORE dividing by sqrt(embed_size);
  * TransformerBlock/DecoderBlock feed (N, seq, embed) tensors into the sequence-first
    nn.MultiheadAttention, so attention runs over dim 0 (see CONTRACT.md).
Works with torch 1.13 (Debian /usr/bin/python3) and torch 2.x (pip python3).
"""
# ---- begin seed code: Self-Attention ----
import torch
import torch.nn as nn

class SelfAttention(nn.Module):
    def __init__(self, embed_size, heads):
        super(SelfAttention, self).__init__()
        self.embed_size = embed_size
        self.heads = heads
        self.head_dim = embed_size // heads

        assert (self.head_dim * heads == embed_size), "Embed size needs to be divisible by heads"

        self.values = nn.Linear(self.head_dim, self.head_dim, bias=False)
        self.keys = nn.Linear(self.head_dim, self.head_dim, bias=False)
        self.queries = nn.Linear(self.head_dim, self.head_dim, bias=False)
        self.fc_out = nn.Linear(heads * self.head_dim, embed_size)

    def forward(self, values, keys, queries, mask):
        # Get number of training examples
        N = queries.shape[0]
        value_len, key_len, query_len = values.shape[1], keys.shape[1], queries.shape[1]

        # Split embedding into self.heads pieces
        values = values.reshape(N, value_len, self.heads, self.head_dim)
        keys = keys.reshape(N, key_len, self.heads, self.head_dim)
        queries = queries.reshape(N, query_len, self.heads, self.head_dim)

        # Transpose to get dimensions batch_size * self.heads * seq_len * self.head_dim
        values = values.permute(0, 2, 1, 3)
        keys = keys.permute(0, 2, 1, 3)
        queries = queries.permute(0, 2, 1, 3)

        # Calculate energy
        energy = torch.matmul(queries, keys.permute(0, 1, 3, 2))
        if mask is not None:
            energy = energy.masked_fill(mask == 0, float("-1e20"))

        # Apply softmax to get attention scores
        attention = torch.softmax(energy / (self.embed_size ** (1/2)), dim=-1)

        # Multiply attention scores with values
        out = torch.matmul(attention, values)

        # Concatenate and linearly transform output
        out = out.permute(0, 2, 1, 3).reshape(N, query_len, self.heads * self.head_dim)
        out = self.fc_out(out)
        return out
# ---- end seed code: Self-Attention ----

# ---- begin seed code: Transformer ----
import torch
import torch.nn as nn
from torch.nn.modules.activation import MultiheadAttention

class TransformerBlock(nn.Module):
    def __init__(self, embed_size, heads, dropout, forward_expansion):
        super(TransformerBlock, self).__init__()
        self.attention = MultiheadAttention(embed_dim=embed_size, num_heads=heads)
        self.norm1 = nn.LayerNorm(embed_size)
        self.norm2 = nn.LayerNorm(embed_size)
        self.feed_forward = nn.Sequential(
            nn.Linear(embed_size, forward_expansion * embed_size),
            nn.ReLU(),
            nn.Linear(forward_expansion * embed_size, embed_size)
        )
        self.dropout = nn.Dropout(dropout)

    def forward(self, value, key, query, mask):
        attention_output, _ = self.attention(query, key, value, attn_mask=mask)
        x = self.dropout(self.norm1(attention_output + query))
        forward_output = self.feed_forward(x)
        out = self.dropout(self.norm2(forward_output + x))
        return out

class Encoder(nn.Module):
    def __init__(self, src_vocab_size, embed_size, num_layers, heads, device, forward_expansion, dropout, max_length):
        super(Encoder, self).__init__()
        self.embed_size = embed_size
        self.device = device
        self.word_embedding = nn.Embedding(src_vocab_size, embed_size)
        self.position_embedding = nn.Embedding(max_length, embed_size)
        self.layers = nn.ModuleList([
            TransformerBlock(embed_size, heads, dropout, forward_expansion)
            for _ in range(num_layers)
        ])
        self.dropout = nn.Dropout(dropout)

    def forward(self, x, mask):
        N, seq_length = x.shape
        positions = torch.arange(0, seq_length).expand(N, seq_length).to(self.device)
        out = self.dropout(self.word_embedding(x) + self.position_embedding(positions))
        for layer in self.layers:
            out = layer(out, out, out, mask)
        return out

class DecoderBlock(nn.Module):
    def __init__(self, embed_size, heads, forward_expansion, dropout, device):
        super(DecoderBlock, self).__init__()
        self.norm = nn.LayerNorm(embed_size)
        self.attention = MultiheadAttention(embed_size, heads)
        self.transformer_block = TransformerBlock(embed_size, heads, dropout, forward_expansion)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x, value, key, src_mask, trg_mask):
        attention_output, _ = self.attention(x, x, x, attn_mask=trg_mask)
        query = self.dropout(self.norm(attention_output + x))
        out = self.transformer_block(value, key, query, src_mask)
        return out

class Decoder(nn.Module):
    def __init__(self, trg_vocab_size, embed_size, num_layers, heads, forward_expansion, dropout, device, max_length):
        super(Decoder, self).__init__()
        self.embed_size = embed_size
        self.device = device
        self.word_embedding = nn.Embedding(trg_vocab_size, embed_size)
        self.position_embedding = nn.Embedding(max_length, embed_size)
        self.layers = nn.ModuleList([
            DecoderBlock(embed_size, heads, forward_expansion, dropout, device)
            for _ in range(num_layers)
        ])
        self.fc_out = nn.Linear(embed_size, trg_vocab_size)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x, enc_out, src_mask, trg_mask):
        N, seq_length = x.shape
        positions = torch.arange(0, seq_length).expand(N, seq_length).to(self.device)
        x = self.dropout(self.word_embedding(x) + self.position_embedding(positions))
        for layer in self.layers:
            x = layer(x, enc_out, enc_out, src_mask, trg_mask)
        out = self.fc_out(x)
        return out
# ---- end seed code: Transformer ----


# ---- not seed code: wrappers used by the conformance fixtures (scripts/gen_fixtures.py) ----
# The seed has no Transformer class; CONTRACT.md ("The seed's models, precisely") defines "the full
# Transformer" as the seed's Encoder whose output feeds the seed's Decoder (as enc_out), with a
# causal target mask and no source mask. The wrappers below only choose which arguments are graph
# inputs (None cannot be an ONNX input); every computation is the seed's.

class Transformer(nn.Module):
    """Encoder(src, src_mask=None) -> enc_out; Decoder(trg, enc_out, src_mask=None, trg_mask)."""
    def __init__(self, src_vocab_size, trg_vocab_size, embed_size=32, num_layers=1, forward_expansion=2,
                 heads=4, dropout=0.0, device="cpu", max_length=32):
        super(Transformer, self).__init__()
        self.encoder = Encoder(src_vocab_size, embed_size, num_layers, heads, device, forward_expansion,
                               dropout, max_length)
        self.decoder = Decoder(trg_vocab_size, embed_size, num_layers, heads, forward_expansion, dropout,
                               device, max_length)

    def forward(self, src, trg, trg_mask):
        enc_out = self.encoder(src, None)
        return self.decoder(trg, enc_out, None, trg_mask)


class TransformerBlockNoMask(nn.Module):
    """The seed's TransformerBlock called with mask=None."""
    def __init__(self, block):
        super(TransformerBlockNoMask, self).__init__()
        self.block = block

    def forward(self, value, key, query):
        return self.block(value, key, query, None)


class DecoderBlockNoSrcMask(nn.Module):
    """The seed's DecoderBlock called with src_mask=None."""
    def __init__(self, block):
        super(DecoderBlockNoSrcMask, self).__init__()
        self.block = block

    def forward(self, x, value, key, trg_mask):
        return self.block(x, value, key, None, trg_mask)


class DecoderNoSrcMask(nn.Module):
    """The seed's Decoder called with src_mask=None."""
    def __init__(self, decoder):
        super(DecoderNoSrcMask, self).__init__()
        self.decoder = decoder

    def forward(self, x, enc_out, trg_mask):
        return self.decoder(x, enc_out, None, trg_mask)


class DecoderInlineCausal(nn.Module):
    """The seed's Decoder (src_mask=None) with the causal trg_mask built inside the graph from x's
    dim 0, as triu(full(-inf), 1): exported on dynamic shapes it becomes ConstantOfShape/Expand + Trilu."""
    def __init__(self, decoder):
        super(DecoderInlineCausal, self).__init__()
        self.decoder = decoder

    def forward(self, x, enc_out):
        n = x.shape[0]
        trg_mask = torch.triu(torch.full((n, n), float("-inf")), diagonal=1)
        return self.decoder(x, enc_out, None, trg_mask)


class TransformerRangeMask(nn.Module):
    """The full Transformer (Transformer above) with the causal trg_mask built from positions:
    pos = arange(n); trg_mask = pos[None, :] > pos[:, None] (bool, True = not allowed) -> Range + Greater."""
    def __init__(self, transformer):
        super(TransformerRangeMask, self).__init__()
        self.transformer = transformer

    def forward(self, src, trg):
        pos = torch.arange(trg.shape[0])
        trg_mask = pos.unsqueeze(0) > pos.unsqueeze(1)
        return self.transformer(src, trg, trg_mask)


class DecoderBlockConstMask(nn.Module):
    """The seed's DecoderBlock (src_mask=None) with a constant trg_mask baked into the graph."""
    def __init__(self, block, trg_mask):
        super(DecoderBlockConstMask, self).__init__()
        self.block = block
        self.register_buffer("trg_mask", trg_mask)

    def forward(self, x, value, key):
        return self.block(x, value, key, None, self.trg_mask)
