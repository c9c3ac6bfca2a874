// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title Anchor — cocred checkpoint roots, timestamped on chain
/// @notice The cocred ledger summarises batches of its append-only log as signed
/// checkpoints (tree size, Merkle root). Each checkpoint's root is written here by
/// one transaction, whatever the batch size, so that nobody, the operator
/// included, can later rewrite history unnoticed: an auditor recomputes the root
/// from the log and finds it here, with the block and time it was first seen.
///
/// @dev Why only the owner may anchor. With "anyone may anchor, first write
/// wins", a watcher can copy a root out of the operator's pending transaction and
/// front-run it, becoming the recorded anchorer; or it can push a tree size far
/// ahead of the real log and, since sizes must grow, lock the operator out. An
/// owner set at deployment keeps provenance sound: a record here means the
/// ledger's own key anchored that root. The owner can hand over to a new key
/// (rotation) in two steps (propose, then accept from the new key), so a typo in
/// the new address cannot brick anchoring.
///
/// Storage: one slot per anchor (tree size, block, timestamp, owner index), plus
/// one shared slot (owner, latest tree size, owner index). Who anchored a root is
/// derived from the owner index: only the owner of that era could have written it.
contract Anchor {
    struct Record {
        uint64 treeSize; // 0 means "never anchored": sizes start at 1
        uint64 blockNumber;
        uint64 timestamp;
        uint64 ownerIndex; // index into ownerAt: the key that anchored
    }

    /// @notice The key allowed to anchor.
    address public owner;
    /// @notice The largest tree size anchored so far (0 before the first anchor).
    uint64 public latestTreeSize;
    /// @notice How many times ownership changed hands; `ownerAt(ownerIndex) == owner`.
    uint32 public ownerIndex;
    /// @notice The key proposed by the owner, until it accepts.
    address public pendingOwner;
    /// @notice Every owner there has been, by index (0 = the initial owner).
    mapping(uint256 => address) public ownerAt;

    mapping(bytes32 => Record) private records;

    /// @notice A checkpoint root was anchored.
    event Anchored(bytes32 indexed root, uint64 treeSize, address indexed by);
    /// @notice The owner proposed `newOwner`, who must accept.
    event OwnershipTransferStarted(address indexed previousOwner, address indexed newOwner);
    /// @notice Anchoring rights passed from `previousOwner` to `newOwner`.
    event OwnershipTransferred(address indexed previousOwner, address indexed newOwner);

    /// @notice `caller` is not the owner.
    error NotOwner(address caller);
    /// @notice `caller` is not the proposed owner.
    error NotPendingOwner(address caller);
    /// @notice The new owner must be a real address.
    error ZeroAddressOwner();
    /// @notice A zero root is never a real Merkle root; it is an uninitialised value.
    error EmptyRoot();
    /// @notice The log only grows: a checkpoint must cover more leaves than the last.
    error TreeSizeMustGrow(uint64 last, uint64 given);
    /// @notice `root` was already anchored, at tree size `treeSize`.
    error RootAlreadyAnchored(bytes32 root, uint64 treeSize);

    constructor(address initialOwner) {
        if (initialOwner == address(0)) revert ZeroAddressOwner();
        owner = initialOwner;
        ownerAt[0] = initialOwner;
        emit OwnershipTransferred(address(0), initialOwner);
    }

    /// @notice Record `root` as the Merkle root of the ledger's first `treeSize` leaves.
    /// @dev Reverts: NotOwner, EmptyRoot, RootAlreadyAnchored, TreeSizeMustGrow.
    function anchor(bytes32 root, uint64 treeSize) external {
        address currentOwner = owner;
        uint64 last = latestTreeSize;
        if (msg.sender != currentOwner) revert NotOwner(msg.sender);
        if (root == bytes32(0)) revert EmptyRoot();
        Record storage record = records[root];
        if (record.treeSize != 0) revert RootAlreadyAnchored(root, record.treeSize);
        if (treeSize <= last) revert TreeSizeMustGrow(last, treeSize);
        records[root] = Record({
            treeSize: treeSize,
            blockNumber: uint64(block.number),
            timestamp: uint64(block.timestamp),
            ownerIndex: ownerIndex
        });
        latestTreeSize = treeSize;
        emit Anchored(root, treeSize, msg.sender);
    }

    /// @notice Where and when `root` was anchored, and by whom; all zero if never.
    function lookup(bytes32 root)
        external
        view
        returns (uint64 treeSize, uint64 blockNumber, uint64 timestamp, address anchoredBy)
    {
        Record memory record = records[root];
        if (record.treeSize == 0) return (0, 0, 0, address(0));
        return (record.treeSize, record.blockNumber, record.timestamp, ownerAt[record.ownerIndex]);
    }

    /// @notice Propose `newOwner` as the anchoring key; it takes over once it accepts.
    /// @dev Reverts: NotOwner, ZeroAddressOwner. A new proposal replaces the last.
    function transferOwnership(address newOwner) external {
        if (msg.sender != owner) revert NotOwner(msg.sender);
        if (newOwner == address(0)) revert ZeroAddressOwner();
        pendingOwner = newOwner;
        emit OwnershipTransferStarted(msg.sender, newOwner);
    }

    /// @notice Called by the proposed owner to take over anchoring.
    /// @dev Reverts: NotPendingOwner.
    function acceptOwnership() external {
        if (msg.sender != pendingOwner) revert NotPendingOwner(msg.sender);
        address previous = owner;
        uint32 index = ownerIndex + 1;
        owner = msg.sender;
        ownerIndex = index;
        ownerAt[index] = msg.sender;
        delete pendingOwner;
        emit OwnershipTransferred(previous, msg.sender);
    }
}
