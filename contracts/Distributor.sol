// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title Distributor — members claim their settled cocred payout with a Merkle proof
/// @notice A brand settles a campaign's payout lines, builds a Merkle tree of
/// (index, account, amount) leaves (contracts/claims.py `ClaimTree`), deploys one
/// Distributor holding its root, and funds it with the ERC-20 it pays in. Each
/// member (or anyone on their behalf: the tokens always go to `account`) then
/// claims once, with the proof the API serves. A claim emits `Claimed`, which
/// cocred reads back and records as a payment.
///
/// @dev The merkle-distributor pattern (Uniswap's, same `claim` signature and
/// `Claimed` event), made cheaper per claim. Each choice, and why:
///
/// - Leaves and nodes as OpenZeppelin's StandardMerkleTree builds them: leaf =
///   keccak256(keccak256(abi.encode(index, account, amount))), node = keccak256 of
///   the sorted pair. Sorted pairs need no left/right flags in the proof; the
///   double hash is OZ's guard against a 64-byte node passing as a leaf, and it
///   lets an independent implementation (the npm merkle-tree of OpenZeppelin) rebuild and
///   check every root and proof (tests/contracts/test_claims_contract.py). It
///   costs one 32-byte keccak (~40 gas) more than Uniswap's packed leaf.
/// - The proof stays in calldata and is walked in assembly (Solady's
///   MerkleProofLib loop: branchless ordering in scratch space, no bounds checks,
///   no memory copy). Uniswap copies the proof into memory and loops with checked
///   arithmetic.
/// - Token and root are immutable: read from code, no storage read.
/// - One claimed bit per index, 255 per storage word; the 256th bit of every word
///   is a "prepared" sentinel. A word that goes from zero to non-zero costs 20,000
///   gas, and with Uniswap's bitmap the first claimant of every 256 pays it.
///   Here the deployer (the brand, who pays anyway) sets the sentinel in every
///   word the tree's indices use, at deploy or later with `prepare`, so every
///   claim flips a bit in a non-zero word (2,900): no member pays 17,100 more than
///   the next because of where their index fell. The sentinel never marks an
///   index claimed, so an unprepared or wrongly prepared word only costs the old
///   20,000 gas: nobody can be locked out by a wrong `prepareWords`, and `prepare`
///   is open to anyone. Words are named one by one, so sparse indices cost only
///   the words they use.
/// - The claimed word is read once (Uniswap reads it in `isClaimed` and again to
///   set the bit).
/// - The transfer is a raw `transfer(account, amount)` call that accepts `true`
///   or no return data (tokens such as USDT return nothing) and refuses `false`
///   or a revert; the token's code is checked once at deploy, so there is no
///   per-claim extcodesize and none of SafeERC20's Address.functionCall wrapping.
/// - State changes before the external call (checks-effects-interactions); the
///   token is the one fixed at deploy.
///
/// No owner, no deadline, no sweep: tokens sent here are owed to the members in
/// the tree and can only leave through their claims. Send exactly the tree's
/// total (claims.py `fund`): any excess stays here for good.
contract Distributor {
    /// @dev The top bit of every bitmap word: "prepared", never a claim.
    uint256 private constant PREPARED = 1 << 255;
    /// @dev Claimed bits per word (the 256th is PREPARED).
    uint256 private constant BITS_PER_WORD = 255;

    /// @notice The ERC-20 every claim is paid in.
    address public immutable token;
    /// @notice The root of the (index, account, amount) tree.
    bytes32 public immutable merkleRoot;

    mapping(uint256 => uint256) private claimedWords;

    /// @notice `account` received `amount` for leaf `index` (emitted once per index).
    event Claimed(uint256 index, address account, uint256 amount);

    /// @notice A zero root is never a real Merkle root; it is an uninitialised value.
    error EmptyRoot();
    /// @notice `token` has no code: it cannot be an ERC-20.
    error NotAContract(address token);
    /// @notice The proof does not lead from leaf (`index`, account, amount) to the root.
    error InvalidProof(uint256 index);
    /// @notice Leaf `index` was claimed before.
    error AlreadyClaimed(uint256 index);
    /// @notice The token refused to send `amount` to `account` (too little funding?).
    error TransferFailed(address account, uint256 amount);

    /// @param prepareWords the bitmap words to prepare now (index / 255 of each leaf's
    /// index, claims.py `ClaimTree.bitmap_words`); empty leaves it to `prepare` or to the
    /// first claimants. Each word costs the deployer about 22,000 gas.
    constructor(address token_, bytes32 merkleRoot_, uint256[] memory prepareWords) {
        if (merkleRoot_ == bytes32(0)) revert EmptyRoot();
        if (token_.code.length == 0) revert NotAContract(token_);
        token = token_;
        merkleRoot = merkleRoot_;
        for (uint256 i = 0; i < prepareWords.length; ++i) {
            claimedWords[prepareWords[i]] |= PREPARED;
        }
    }

    /// @notice Set the PREPARED bit in each of `words`: it makes later claims in them
    /// cheaper and marks nothing claimed, so anyone may pay for it.
    function prepare(uint256[] calldata words) external {
        for (uint256 i = 0; i < words.length; ++i) {
            claimedWords[words[i]] |= PREPARED;
        }
    }

    /// @notice Whether leaf `index` has been claimed.
    function isClaimed(uint256 index) external view returns (bool) {
        return (claimedWords[index / BITS_PER_WORD] >> (index % BITS_PER_WORD)) & 1 == 1;
    }

    /// @notice Pay `amount` of `token` to `account` for leaf `index`, once.
    /// @dev Reverts: InvalidProof, AlreadyClaimed, TransferFailed.
    function claim(uint256 index, address account, uint256 amount, bytes32[] calldata merkleProof)
        external
    {
        bytes32 node;
        assembly ("memory-safe") {
            // The leaf: keccak256(keccak256(abi.encode(index, account, amount))), encoded
            // past the free-memory pointer (not allocated: nothing else uses memory here).
            let free := mload(0x40)
            mstore(free, index)
            mstore(add(free, 0x20), account)
            mstore(add(free, 0x40), amount)
            mstore(0x00, keccak256(free, 0x60))
            node := keccak256(0x00, 0x20)
            // Walk the proof: hash each sibling with the node, smaller first.
            let offset := merkleProof.offset
            for { let end := add(offset, shl(5, merkleProof.length)) } lt(offset, end) {
                offset := add(offset, 0x20)
            } {
                let sibling := calldataload(offset)
                let slot := shl(5, gt(node, sibling)) // 0x20 if the node is the larger
                mstore(slot, node)
                mstore(xor(slot, 0x20), sibling)
                node := keccak256(0x00, 0x40)
            }
        }
        if (node != merkleRoot) revert InvalidProof(index);

        uint256 wordIndex = index / BITS_PER_WORD;
        uint256 bit = 1 << (index % BITS_PER_WORD);
        uint256 word = claimedWords[wordIndex];
        if (word & bit != 0) revert AlreadyClaimed(index);
        claimedWords[wordIndex] = word | bit;

        address paidIn = token;
        bool sent;
        assembly ("memory-safe") {
            let free := mload(0x40)
            mstore(free, shl(224, 0xa9059cbb)) // transfer(address,uint256)
            mstore(add(free, 0x04), account)
            mstore(add(free, 0x24), amount)
            let ok := call(gas(), paidIn, 0, free, 0x44, 0x00, 0x20)
            // Success: the call did not revert and returned nothing or exactly `true`.
            sent := and(ok, or(iszero(returndatasize()), and(gt(returndatasize(), 31), eq(mload(0x00), 1))))
        }
        if (!sent) revert TransferFailed(account, amount);

        emit Claimed(index, account, amount);
    }
}
