"""initial schema

Revision ID: 0001
Revises: 
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('idx_date',
    sa.Column('pid', sa.BigInteger(), nullable=False),
    sa.Column('res_type', sa.String(length=64), nullable=False),
    sa.Column('param', sa.String(length=64), nullable=False),
    sa.Column('low', sa.BigInteger(), nullable=False),
    sa.Column('high', sa.BigInteger(), nullable=False)
    )
    with op.batch_alter_table('idx_date', schema=None) as batch_op:
        batch_op.create_index('ix_idx_date_pid', ['pid'], unique=False)
        batch_op.create_index('ix_idx_date_res_type_param_high', ['res_type', 'param', 'high'], unique=False)
        batch_op.create_index('ix_idx_date_res_type_param_low', ['res_type', 'param', 'low'], unique=False)

    op.create_table('idx_quantity',
    sa.Column('pid', sa.BigInteger(), nullable=False),
    sa.Column('res_type', sa.String(length=64), nullable=False),
    sa.Column('param', sa.String(length=64), nullable=False),
    sa.Column('value', sa.Float(), nullable=False),
    sa.Column('system', sa.String(length=200), nullable=True),
    sa.Column('code', sa.String(length=200), nullable=True),
    sa.Column('unit', sa.String(length=200), nullable=True)
    )
    with op.batch_alter_table('idx_quantity', schema=None) as batch_op:
        batch_op.create_index('ix_idx_quantity_pid', ['pid'], unique=False)
        batch_op.create_index('ix_idx_quantity_res_type_param_value', ['res_type', 'param', 'value'], unique=False)

    op.create_table('idx_reference',
    sa.Column('pid', sa.BigInteger(), nullable=False),
    sa.Column('res_type', sa.String(length=64), nullable=False),
    sa.Column('param', sa.String(length=64), nullable=False),
    sa.Column('target_type', sa.String(length=64), nullable=True),
    sa.Column('target_id', sa.String(length=64), nullable=True),
    sa.Column('url', sa.String(length=500), nullable=True)
    )
    with op.batch_alter_table('idx_reference', schema=None) as batch_op:
        batch_op.create_index('ix_idx_reference_pid', ['pid'], unique=False)
        batch_op.create_index('ix_idx_reference_res_type_param_target_id', ['res_type', 'param', 'target_id'], unique=False)
        batch_op.create_index('ix_idx_reference_target_type_target_id', ['target_type', 'target_id'], unique=False)

    op.create_table('idx_string',
    sa.Column('pid', sa.BigInteger(), nullable=False),
    sa.Column('res_type', sa.String(length=64), nullable=False),
    sa.Column('param', sa.String(length=64), nullable=False),
    sa.Column('norm', sa.String(length=200), nullable=False),
    sa.Column('exact', sa.String(length=200), nullable=False)
    )
    with op.batch_alter_table('idx_string', schema=None) as batch_op:
        batch_op.create_index('ix_idx_string_pid', ['pid'], unique=False)
        batch_op.create_index('ix_idx_string_res_type_param_norm', ['res_type', 'param', 'norm'], unique=False)

    op.create_table('idx_token',
    sa.Column('pid', sa.BigInteger(), nullable=False),
    sa.Column('res_type', sa.String(length=64), nullable=False),
    sa.Column('param', sa.String(length=64), nullable=False),
    sa.Column('system', sa.String(length=200), nullable=True),
    sa.Column('code', sa.String(length=200), nullable=True),
    sa.Column('display', sa.String(length=200), nullable=True)
    )
    with op.batch_alter_table('idx_token', schema=None) as batch_op:
        batch_op.create_index('ix_idx_token_pid', ['pid'], unique=False)
        batch_op.create_index('ix_idx_token_res_type_param_code', ['res_type', 'param', 'code'], unique=False)

    op.create_table('idx_uri',
    sa.Column('pid', sa.BigInteger(), nullable=False),
    sa.Column('res_type', sa.String(length=64), nullable=False),
    sa.Column('param', sa.String(length=64), nullable=False),
    sa.Column('uri', sa.String(length=500), nullable=False)
    )
    with op.batch_alter_table('idx_uri', schema=None) as batch_op:
        batch_op.create_index('ix_idx_uri_pid', ['pid'], unique=False)
        batch_op.create_index('ix_idx_uri_res_type_param_uri', ['res_type', 'param', 'uri'], unique=False)

    op.create_table('outbox',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('res_type', sa.String(length=64), nullable=False),
    sa.Column('res_id', sa.String(length=64), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('operation', sa.String(length=8), nullable=False),
    sa.Column('created', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('seq')
    )
    op.create_table('resource_versions',
    sa.Column('pid', sa.BigInteger(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('res_type', sa.String(length=64), nullable=False),
    sa.Column('res_id', sa.String(length=64), nullable=False),
    sa.Column('last_updated', sa.BigInteger(), nullable=False),
    sa.Column('deleted', sa.Boolean(), nullable=False),
    sa.Column('method', sa.String(length=8), nullable=False),
    sa.Column('source', sa.String(length=500), nullable=True),
    sa.Column('body', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.PrimaryKeyConstraint('pid', 'version', name='pk_resource_versions')
    )
    with op.batch_alter_table('resource_versions', schema=None) as batch_op:
        batch_op.create_index('ix_versions_type_updated', ['res_type', 'last_updated'], unique=False)
        batch_op.create_index('ix_versions_updated', ['last_updated'], unique=False)

    op.create_table('resources',
    sa.Column('pid', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('res_type', sa.String(length=64), nullable=False),
    sa.Column('res_id', sa.String(length=64), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('last_updated', sa.BigInteger(), nullable=False),
    sa.Column('deleted', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('pid'),
    sa.UniqueConstraint('res_type', 'res_id', name='uq_resources_type_id')
    )
    with op.batch_alter_table('resources', schema=None) as batch_op:
        batch_op.create_index('ix_resources_type_updated', ['res_type', 'last_updated'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('resources', schema=None) as batch_op:
        batch_op.drop_index('ix_resources_type_updated')

    op.drop_table('resources')
    with op.batch_alter_table('resource_versions', schema=None) as batch_op:
        batch_op.drop_index('ix_versions_updated')
        batch_op.drop_index('ix_versions_type_updated')

    op.drop_table('resource_versions')
    op.drop_table('outbox')
    with op.batch_alter_table('idx_uri', schema=None) as batch_op:
        batch_op.drop_index('ix_idx_uri_res_type_param_uri')
        batch_op.drop_index('ix_idx_uri_pid')

    op.drop_table('idx_uri')
    with op.batch_alter_table('idx_token', schema=None) as batch_op:
        batch_op.drop_index('ix_idx_token_res_type_param_code')
        batch_op.drop_index('ix_idx_token_pid')

    op.drop_table('idx_token')
    with op.batch_alter_table('idx_string', schema=None) as batch_op:
        batch_op.drop_index('ix_idx_string_res_type_param_norm')
        batch_op.drop_index('ix_idx_string_pid')

    op.drop_table('idx_string')
    with op.batch_alter_table('idx_reference', schema=None) as batch_op:
        batch_op.drop_index('ix_idx_reference_target_type_target_id')
        batch_op.drop_index('ix_idx_reference_res_type_param_target_id')
        batch_op.drop_index('ix_idx_reference_pid')

    op.drop_table('idx_reference')
    with op.batch_alter_table('idx_quantity', schema=None) as batch_op:
        batch_op.drop_index('ix_idx_quantity_res_type_param_value')
        batch_op.drop_index('ix_idx_quantity_pid')

    op.drop_table('idx_quantity')
    with op.batch_alter_table('idx_date', schema=None) as batch_op:
        batch_op.drop_index('ix_idx_date_res_type_param_low')
        batch_op.drop_index('ix_idx_date_res_type_param_high')
        batch_op.drop_index('ix_idx_date_pid')

    op.drop_table('idx_date')
